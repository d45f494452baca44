"""Tearing integrations down and recreating them (LGF-108).

Teardown stops everything that would touch the form again (the beat entry, LinkedIn's lead
notification subscriptions) and keeps the data unless asked to purge it; the mapping is always
kept, so recreate can rebuild the integration as it was. Recreate re-activates the same
integration: its watermark and its stored leads (unique on the LinkedIn response id) mean it
resumes where it stopped and never pushes a lead twice.
"""

import logging

from django.db import transaction
from django.utils import timezone

from connectors.exceptions import ApiError
from connectors.models import LeadForm
from leads.models import Lead, SyncRun
from leads.services import integration_lock_acquire, integration_lock_release
from mappings.models import Integration
from mappings.services import (
    IntegrationError,
    integration_mappings_complete,
    integration_schedule,
    integration_subscribe,
    integration_unschedule,
    integration_unsubscribe,
)

logger = logging.getLogger(__name__)


def integration_teardown(*, integration: Integration, purge: bool = False) -> dict:
    """Stop the schedule, delete the webhook subscriptions, mark the integration torn down, and
    with `purge` delete its stored leads and runs (personal data). Waits for no running sync: if
    one holds the integration, SyncBusy is raised and nothing changes. Running it again on a
    torn-down integration finishes what was left (subscriptions LinkedIn refused to delete, a
    purge)."""
    token = integration_lock_acquire(integration=integration)
    try:
        warnings = integration_unsubscribe(integration=integration)
        with transaction.atomic():
            integration_unschedule(integration=integration)
            Integration.objects.filter(pk=integration.pk).update(
                state=Integration.State.TORN_DOWN, torn_down_at=integration.torn_down_at or timezone.now(),
                updated_at=timezone.now(),
            )
            purged = {"leads": 0, "runs": 0}
            if purge:
                purged["leads"] = Lead.objects.filter(integration=integration).delete()[0]
                purged["runs"] = SyncRun.objects.filter(integration=integration).delete()[0]
    finally:
        integration_lock_release(integration=integration, token=token)
    integration.refresh_from_db()
    logger.info("integration %s torn down%s", integration, " and purged" if purge else "")
    return {"integration": integration.pk, "form_id": integration.form.linkedin_id, "state": integration.state,
            "purged": purged if purge else None, "warnings": warnings}


def integration_recreate(*, form: LeadForm) -> dict:
    """Bring back the form's torn-down integration with its saved mapping (completed with any
    source a newer form version added), its schedule and its subscriptions. It resumes from its
    watermark; leads already stored are never pushed again."""
    if Integration.objects.filter(form=form).exclude(state=Integration.State.TORN_DOWN).exists():
        raise IntegrationError(f"Form {form.linkedin_id} ({form}) already has a live integration.")
    integration = (Integration.objects.filter(form=form, state=Integration.State.TORN_DOWN)
                   .select_related("form__owner__connection", "crm_connection").order_by("-torn_down_at", "-pk").first())
    if integration is None:
        raise IntegrationError(f"Form {form.linkedin_id} has no torn-down integration to recreate: use `leadsync enable`.")
    with transaction.atomic():
        now = timezone.now()
        Integration.objects.filter(pk=integration.pk).update(
            state=Integration.State.ACTIVE, torn_down_at=None, recreated_at=now, updated_at=now)
        integration.state, integration.torn_down_at, integration.recreated_at = Integration.State.ACTIVE, None, now
        added = integration_mappings_complete(integration=integration)
        integration_schedule(integration=integration)
    warnings = []
    try:
        integration_subscribe(integration=integration)
    except ApiError as exc:
        warnings.append(f"lead notifications could not be subscribed ({exc}); the schedule still pulls every lead")
    return {"integration": integration.pk, "form_id": form.linkedin_id, "state": integration.state,
            "watermark": integration.watermark, "mappings_added": added,
            "leads_kept": integration.leads.count(), "warnings": warnings}
