"""The admin banner's count of integrations whose mapping needs a look after their form changed."""

from mappings.models import Integration


def mapping_review_alert(request):
    """Only for staff on admin pages: one small query over the live integrations."""
    user = getattr(request, "user", None)
    if not request.path.startswith("/admin/") or user is None or not user.is_active or not user.is_staff:
        return {}
    reviews = Integration.objects.exclude(state=Integration.State.TORN_DOWN).values_list("mapping_review", flat=True)
    return {"leadsync_mapping_reviews": sum(1 for review in reviews if review)}
