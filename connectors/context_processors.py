"""The admin banner's data: LinkedIn connections that need a person (see connectors.heartbeat)."""

from connectors.heartbeat import connection_alerts


def leadsync_alerts(request):
    """Only for staff on admin pages: one small query, no secrets loaded."""
    user = getattr(request, "user", None)
    if not request.path.startswith("/admin/") or user is None or not user.is_active or not user.is_staff:
        return {}
    return {"leadsync_alerts": connection_alerts()}
