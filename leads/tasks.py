"""Celery tasks: thin wrappers that load rows by id and call one service."""

import logging

from celery import shared_task
from django.conf import settings

from leads import people, webhooks
from connectors.exceptions import LeadSyncError
from leads.pipeline import reconcile
from leads.pipeline.locks import SyncBusy
from leads.pipeline.sync import integration_recent_scheduled_run, integration_sync, leads_retry_failed
from leads.models import LeadNotification
from mappings.models import Integration

logger = logging.getLogger(__name__)


@shared_task(name="leads.sync_integration", bind=True, acks_late=True, ignore_result=False)  # beat entries name it
def sync_integration(self, integration_id, trigger="schedule", days=None):
    """Pull and push one integration. Does nothing for an integration that is gone or not active
    (a manual run also takes a paused one), or while another sync holds it (the next tick picks
    the work up: the window overlaps). A scheduled tick of an integration that a sibling's tick of
    this interval already pulled does nothing ("done", with that run): the owner's integrations
    share one sync, so an idle interval costs one LinkedIn call per owner and lead type, not one
    per integration. A task the broker gives back because its worker died finds
    the lock of its own dead sync: it tries once more when that lease has run out, so the work
    resumes within LEADSYNC_LOCK_TTL_SECONDS instead of waiting for the next tick."""
    states = [Integration.State.ACTIVE] + ([Integration.State.PAUSED] if trigger != "schedule" else [])
    integration = Integration.objects.select_related("form__owner__connection", "crm_connection").filter(
        pk=integration_id, state__in=states
    ).first()
    if integration is None:
        return {"integration": integration_id, "state": "inactive"}
    if trigger == "schedule" and (done := integration_recent_scheduled_run(integration=integration)):
        return {"integration": integration_id, "run": done.pk, "state": "done", "error": ""}
    try:
        run = integration_sync(integration=integration, trigger=trigger, days=days)
    except SyncBusy:
        if (self.request.delivery_info or {}).get("redelivered") and not self.request.retries:
            raise self.retry(countdown=settings.LEADSYNC_LOCK_TTL_SECONDS + 1, max_retries=1) from None
        logger.info("integration %s: a sync is already running; this tick does nothing", integration_id)
        return {"integration": integration_id, "state": "busy"}
    return {"integration": integration_id, "run": run.pk, "state": run.state, "error": run.error}


@shared_task(name="leads.retry_failed", acks_late=True)
def retry_failed(integration_id, lead_ids=None, error_codes=None):
    """Push an integration's failed leads (or those of `lead_ids`, or those failed with one of
    `error_codes`) again (the admin's retry actions)."""
    integration = Integration.objects.filter(pk=integration_id).exclude(state=Integration.State.TORN_DOWN).first()
    if integration is None:
        return {"integration": integration_id, "state": "inactive"}
    try:
        run = leads_retry_failed(integration=integration, lead_ids=lead_ids, error_codes=error_codes)
    except SyncBusy:
        return {"integration": integration_id, "state": "busy"}
    return {"integration": integration_id, "run": run.pk, "state": run.state, "error": run.error}


@shared_task(name="leads.sweep_notifications", acks_late=True)
def sweep_notifications():
    """Every minute (beat): the stored lead notifications still waiting, processed (see
    webhooks.notifications_sweep), so a notification never depends on the broker having been up."""
    return webhooks.notifications_sweep()


@shared_task(name="leads.reconcile_integrations", acks_late=True)
def reconcile_integrations(days=None):
    """Daily (beat): every active integration's last days compared with LinkedIn's count, and
    pulled again where leads are missing (pipeline.reconcile). One that fails is reported, the
    others go on."""
    results = {}
    for integration in Integration.objects.filter(state=Integration.State.ACTIVE).select_related(
            "form__owner__connection", "crm_connection"):
        try:
            results[integration.pk] = reconcile.integration_reconcile(integration=integration,
                                                                      days=days or reconcile.DEFAULT_DAYS)["state"]
        except LeadSyncError as exc:
            results[integration.pk] = f"not reconciled: {exc}"
    return results


@shared_task(name="leads.purge_expired_personal_data")
def purge_expired_personal_data():
    """Daily (beat): the personal data of leads older than LEADSYNC_RETENTION_DAYS, cleared."""
    return {"purged": people.leads_retention_purge()}


@shared_task(name="leads.process_lead_notification", bind=True, acks_late=True, max_retries=8)
def process_lead_notification(self, notification_id):
    """Act on one stored LinkedIn lead notification (webhooks.notification_process). Safe to run
    twice: a notification already processed or ignored is left alone. A deletion that has to wait
    for a running sync is retried after 1, 2, 4 … 60 minutes (about 3 hours in all, far longer
    than a sync); the last attempt marks it failed instead."""
    notification = LeadNotification.objects.filter(pk=notification_id).first()
    if notification is None:
        return {"notification": notification_id, "state": "gone"}
    try:
        webhooks.notification_process(notification=notification,
                                      final_attempt=self.request.retries >= self.max_retries)
    except webhooks.NotificationDeferred as exc:
        raise self.retry(exc=exc, countdown=min(60 * 2 ** self.request.retries, 3600)) from None
    return {"notification": notification_id, "state": notification.state, "error": notification.error}
