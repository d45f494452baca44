"""Creating, scheduling and changing integrations and their mappings."""

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors.models import CrmConnection, LeadForm
from connectors.services import crm_client, crm_field_catalogue, crm_fields_load
from mappings import engine
from mappings.models import FieldMapping, Integration

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
        return _integration_create(form=form, crm_connection=crm_connection, definition=definition, every=every,
                                   include_test_leads=include_test_leads)


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


def integration_mappings(integration: Integration) -> list[FieldMapping]:
    return list(integration.mappings.order_by("position", "pk"))
