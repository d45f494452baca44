"""Creating, scheduling and changing integrations and their mappings."""

import json
import logging

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors.exceptions import ApiError
from connectors.models import CrmConnection, LeadForm
from connectors.clients import crm_client
from connectors.crm_connections import crm_field_catalogue, crm_fields_load
from connectors.subscriptions import lead_notifications_subscribe, lead_notifications_unsubscribe
from mappings import engine
from mappings.models import FieldMapping, Integration

logger = logging.getLogger(__name__)

SYNC_TASK = "leads.sync_integration"


class IntegrationError(Exception):
    """The integration cannot be created or changed as asked; the message says why."""


def form_definition(form: LeadForm) -> dict | None:
    """The newest stored version of the form (what new mappings are built from)."""
    version = form.versions.order_by("-version").first()
    return version.definition if version else None


def crm_fields_create_for_form(*, crm_connection: CrmConnection, definition: dict) -> list[str]:
    """Create in the CRM the custom fields a form needs and does not find there (LGF-104): one
    per question, hidden field and consent that no existing field matches by label. Reloads the
    catalogue. Returns the labels created; a field the CRM refuses is skipped with a warning."""
    rows = engine.auto_map(definition, crm_field_catalogue(crm_connection))
    wanted = engine.suggest_custom_fields(definition, rows)
    if not wanted:
        return []
    results = crm_client(crm_connection).create_fields(wanted)
    crm_fields_load(connection=crm_connection)
    return [field["label"] for field, result in zip(wanted, results) if result.success]


def integration_enable(
    *, form: LeadForm, crm_connection: CrmConnection, every: int | None = None, include_test_leads: bool = False,
    create_fields: bool = True,
) -> Integration:
    """Create the integration for a form (LGF-103/104): create the CRM custom fields the form
    needs (unless `create_fields` is off), auto-map every question, hidden field, consent and
    metadata key to the CRM's fields and schedule the pull. Refuses a form that already has a
    live integration or whose fields were never discovered."""
    if Integration.objects.filter(form=form).exclude(state=Integration.State.TORN_DOWN).exists():
        raise IntegrationError(f"Form {form.linkedin_id} ({form}) already has an integration.")
    definition = form_definition(form)
    if definition is None:
        raise IntegrationError(f"Form {form.linkedin_id} has no discovered fields yet: run `leadsync discover` first.")
    every = every or settings.LEADSYNC_DEFAULT_SYNC_MINUTES
    if every < 1:
        raise IntegrationError("The schedule must be at least every minute.")
    if create_fields:  # HTTP: never inside the transaction below
        crm_fields_create_for_form(crm_connection=crm_connection, definition=definition)
    with transaction.atomic():
        integration = _integration_create(form=form, crm_connection=crm_connection, definition=definition,
                                          every=every, include_test_leads=include_test_leads)
    try:  # HTTP again, after the commit; polling covers every lead if this fails
        integration_subscribe(integration=integration)
    except ApiError as exc:
        logger.warning("%s: lead notifications not subscribed (%s); the schedule pulls every lead", integration, exc)
    return integration


def _integration_create(*, form, crm_connection, definition, every, include_test_leads):
    if Integration.objects.filter(form=form).exclude(state=Integration.State.TORN_DOWN).exists():
        raise IntegrationError(f"Form {form.linkedin_id} ({form}) already has an integration.")
    integration = Integration.objects.create(
        form=form, crm_connection=crm_connection, lead_types=list(form.lead_types),
        include_test_leads=include_test_leads, sync_every_minutes=every,
    )
    rows = engine.auto_map(definition, crm_field_catalogue(crm_connection))
    FieldMapping.objects.bulk_create(
        FieldMapping(
            integration=integration, position=position, source_kind=row["source_kind"], source_key=row["source_key"],
            source_label=row.get("source_label", "")[:500], crm_field=row.get("crm_field") or "",
            transform=row.get("transform") or "none", enabled=row.get("enabled", True),
        )
        for position, row in enumerate(rows)
    )
    integration_schedule(integration=integration)
    return integration


def integration_schedule(*, integration: Integration) -> PeriodicTask:
    """Create or update the beat entry that runs the integration; enabled only while it is active."""
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=integration.sync_every_minutes, period=IntervalSchedule.MINUTES
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"LeadSync: sync integration {integration.pk} (form {integration.form.linkedin_id})",
        defaults=dict(
            task=SYNC_TASK, interval=interval, args=json.dumps([integration.pk]),
            enabled=integration.state == Integration.State.ACTIVE,
            description=f"Pull and push the leads of {integration}.",
        ),
    )
    if integration.periodic_task_id != task.pk:
        integration.periodic_task = task
        integration.save(update_fields=["periodic_task", "updated_at"])
    return task


def integration_unschedule(*, integration: Integration) -> None:
    """Remove the beat entry: a torn-down integration is never run by beat again."""
    task_id = integration.periodic_task_id
    if task_id:
        Integration.objects.filter(pk=integration.pk).update(periodic_task=None)
        integration.periodic_task = None
        PeriodicTask.objects.filter(pk=task_id).delete()


def integration_mappings_complete(*, integration: Integration) -> int:
    """Add a mapping row for every source of the newest form version that has none yet (a form
    edited since the integration was made), auto-mapped like at enable; existing rows, and the
    admins' changes to them, are kept. Returns how many rows were added."""
    definition = form_definition(integration.form)
    if definition is None:
        return 0
    existing = set(integration.mappings.values_list("source_kind", "source_key"))
    rows = [r for r in engine.auto_map(definition, crm_field_catalogue(integration.crm_connection))
            if (r["source_kind"], r["source_key"]) not in existing]
    taken = set(integration.mappings.exclude(crm_field="").values_list("crm_field", flat=True))
    start = (integration.mappings.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    FieldMapping.objects.bulk_create(
        FieldMapping(
            integration=integration, position=start + i, source_kind=row["source_kind"], source_key=row["source_key"],
            source_label=row.get("source_label", "")[:500],
            crm_field="" if row.get("crm_field") in taken else (row.get("crm_field") or ""),
            transform=row.get("transform") or "none", enabled=row.get("enabled", True),
        )
        for i, row in enumerate(rows)
    )
    return len(rows)


def integration_subscribe(*, integration: Integration) -> list[str]:
    """Subscribe LinkedIn lead notifications for the integration's form when the site has a public
    webhook URL (LEADSYNC_WEBHOOK_URL); without one LeadSync polls on the schedule only."""
    if not settings.LEADSYNC_WEBHOOK_URL:
        return []
    ids = lead_notifications_subscribe(form=integration.form, webhook_url=settings.LEADSYNC_WEBHOOK_URL)
    Integration.objects.filter(pk=integration.pk).update(webhook_subscriptions=ids)
    integration.webhook_subscriptions = ids
    return ids


def integration_unsubscribe(*, integration: Integration) -> list[str]:
    """Delete the integration's subscriptions; returns warnings (LinkedIn unreachable: the ids are
    kept on the integration so a later teardown can finish the job). Subscriptions are per owner:
    one that another live integration still lists is kept for it."""
    ids = list(integration.webhook_subscriptions or [])
    if not ids:
        return []
    shared = {str(i) for other in Integration.objects.exclude(pk=integration.pk).exclude(state=Integration.State.TORN_DOWN)
              .values_list("webhook_subscriptions", flat=True) for i in (other or [])}
    try:
        lead_notifications_unsubscribe(connection=integration.form.owner.connection,
                                       ids=[i for i in ids if str(i) not in shared])
    except ApiError as exc:
        return [f"LinkedIn lead notification subscriptions {', '.join(map(str, ids))} could not be deleted "
                f"({exc}); run teardown again to retry."]
    Integration.objects.filter(pk=integration.pk).update(webhook_subscriptions=[])
    integration.webhook_subscriptions = []
    return []
