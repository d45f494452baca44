"""Celery tasks: thin wrappers that load rows by id and call one service."""

import logging

from celery import shared_task

from leads import services
from mappings.models import Integration

logger = logging.getLogger(__name__)


@shared_task(name="leads.sync_integration", acks_late=True, ignore_result=False)
def sync_integration(integration_id, trigger="schedule", days=None):
    """Pull and push one integration. Does nothing for an integration that is gone or not active,
    or while another sync holds it (the next tick picks the work up: the window overlaps)."""
    integration = Integration.objects.select_related("form__owner__connection", "crm_connection").filter(
        pk=integration_id, state=Integration.State.ACTIVE
    ).first()
    if integration is None:
        return {"integration": integration_id, "state": "inactive"}
    try:
        run = services.integration_sync(integration=integration, trigger=trigger, days=days)
    except services.SyncBusy:
        logger.info("integration %s: a sync is already running; this tick does nothing", integration_id)
        return {"integration": integration_id, "state": "busy"}
    return {"integration": integration_id, "run": run.pk, "state": run.state, "error": run.error}
