"""Telling people that a LinkedIn connection needs them: e-mail to the admins, once per incident."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import timezone

from connectors.models import LinkedInConnection

logger = logging.getLogger(__name__)


def admin_recipients() -> list[str]:
    """ADMINS from the settings plus every active superuser with an e-mail address."""
    emails = [email for _, email in settings.ADMINS]
    emails += list(
        get_user_model().objects.filter(is_active=True, is_superuser=True).exclude(email="").values_list("email", flat=True)
    )
    return sorted(set(emails))


def reconnect_url() -> str:
    return f"{settings.LEADSYNC_SITE_URL.rstrip('/')}/linkedin/connect/" if settings.LEADSYNC_SITE_URL else "/linkedin/connect/"


def notify_needs_reauth(connection) -> bool:
    """E-mail the admins that `connection` needs re-authorisation, unless they were told already
    since it last worked. Returns whether a mail went out. Never includes a token."""
    claimed = LinkedInConnection.objects.filter(pk=connection.pk, reauth_notified_at__isnull=True).update(
        reauth_notified_at=timezone.now()
    )
    recipients = admin_recipients()
    if not claimed or not recipients:
        return False
    integrations = connection.owners.filter(forms__integrations__state="active").values("forms__integrations").distinct().count()
    send_mail(
        subject=f"[LeadSync] LinkedIn connection {connection.name} needs re-authorisation",
        message=(
            f"LeadSync can no longer use the LinkedIn connection {connection.name!r}"
            f"{' (' + connection.member_name + ')' if connection.member_name else ''}.\n\n"
            f"Reason: {connection.last_error}\n\n"
            f"Scheduled syncs of its {integrations} active integration(s) are stopped; no lead is lost: "
            "they resume from where they stopped once the account is connected again.\n\n"
            f"Re-connect: {reconnect_url()}\n"
            f"(or headlessly: python manage.py leadsync linkedin add {connection.name!r} --access-token …)\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
    logger.info("e-mailed %d admin(s) that LinkedIn connection %s needs re-authorisation", len(recipients), connection.name)
    return True
