"""Celery tasks: thin wrappers that load rows by id and call one service."""

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import transaction

from leads import people, webhooks
from connectors.exceptions import LeadSyncError
from leads.pipeline import reconcile
from leads.pipeline.locks import SyncBusy
from leads.pipeline.sync import (integration_recent_scheduled_run, integration_sync, integrations_sync,
                                 leads_retry_failed, sync_parts)
from leads.pipeline.windows import sync_window
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


SPLIT_TRIGGERS = ("manual", "backfill")


def sync_fan_out(*, integrations, trigger="backfill", days=None, since=None) -> list[tuple[list, str]]:
    """Queue a large sync as parts (pipeline.sync.sync_parts: one per owner and lead type), each a
    `leads.sync_group` task on the `sync` queue, so that every sync worker takes a share of one
    backfill. Returns [(the part's integrations, its task id)], queued once the caller's
    transaction commits. ValueError, before anything is queued, for a trigger that cannot be split
    or a window that makes no sense (sync_window's message)."""
    if trigger not in SPLIT_TRIGGERS:
        raise ValueError(f"Only a {' or '.join(SPLIT_TRIGGERS)} sync is split in parts, not {trigger!r}.")
    for integration in integrations[:1]:
        sync_window(integration=integration, days=days, since=since)
    since_text = since.isoformat() if since else None
    queued = []
    for part in sync_parts(integrations=integrations):
        signature = sync_group.s([i.pk for i in part], trigger=trigger, days=days, since=since_text)
        task_id = signature.freeze().id
        transaction.on_commit(signature.apply_async)
        queued.append((part, task_id))
    return queued


@shared_task(name="leads.sync_integrations", acks_late=True)
def sync_integrations(integration_ids=None, trigger="manual", days=None, since=None):
    """A large sync of these integrations (None: every active one), split in parts that the sync
    workers share (sync_fan_out). Returns the parts' task ids."""
    qs = Integration.objects.select_related("form__owner__connection", "crm_connection")
    if integration_ids is None:
        qs = qs.filter(state=Integration.State.ACTIVE)
    else:
        qs = qs.filter(pk__in=integration_ids).exclude(state=Integration.State.TORN_DOWN)
    since = datetime.fromisoformat(since) if since else None
    queued = sync_fan_out(integrations=list(qs.order_by("pk")), trigger=trigger, days=days, since=since)
    return {"parts": [{"integrations": [i.pk for i in part], "task": task_id} for part, task_id in queued]}


@shared_task(name="leads.sync_group", bind=True, acks_late=True, ignore_result=False)
def sync_group(self, integration_ids, trigger="backfill", days=None, since=None):
    """One part of a large sync: these integrations (one owner, one set of lead types) pulled with
    one finder query per lead type and pushed, each under its own lock. The owner's other
    integrations do not join (they are other parts). An integration another sync holds is left to
    that sync ("busy"); a part the broker gives back because its worker died finds its own dead
    sync's locks, and tries those integrations once more when the leases have run out (as
    sync_integration does). Safe to run twice: leads are stored once, pushed once. As with
    sync_integration, a paused integration is synced only when someone asked (not on "schedule")."""
    states = [Integration.State.ACTIVE] + ([Integration.State.PAUSED] if trigger != "schedule" else [])
    found = list(Integration.objects.select_related("form__owner__connection", "crm_connection").filter(
        pk__in=integration_ids, state__in=states).order_by("pk"))
    since_at = datetime.fromisoformat(since) if since else None
    runs = integrations_sync(integrations=found, trigger=trigger, days=days, since=since_at, siblings=False,
                             skip_busy=True) if found else []
    done = {run.integration_id for run in runs}
    busy = [i.pk for i in found if i.pk not in done]
    if busy and (self.request.delivery_info or {}).get("redelivered") and not self.request.retries:
        raise self.retry(args=[busy], kwargs={"trigger": trigger, "days": days, "since": since},
                         countdown=settings.LEADSYNC_LOCK_TTL_SECONDS + 1, max_retries=1)
    return {"runs": [{"integration": r.integration_id, "run": r.pk, "state": r.state, "error": r.error} for r in runs],
            "busy": busy, "inactive": sorted(set(integration_ids) - {i.pk for i in found})}


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
