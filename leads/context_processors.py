"""The attention banners on every admin page: failed leads waiting for staff, and Celery's broker,
workers or beat not answering (leads.health, cached for a few seconds)."""

from leads.health import celery_alerts, celery_health
from leads.models import Lead


def attention(request):
    """Only for staff on admin pages: one count, and the cached health."""
    user = getattr(request, "user", None)
    if not request.path.startswith("/admin/") or user is None or not user.is_active or not user.is_staff:
        return {}
    return {"leadsync_failed_leads": Lead.objects.filter(state=Lead.State.FAILED).count(),
            "leadsync_celery_alerts": celery_alerts(celery_health())}
