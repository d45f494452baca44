"""An integration's life, in one place: enable, schedule and unschedule, subscribe and unsubscribe
lead notifications, tear down and recreate (LGF-103, LGF-104, LGF-108).

An integration is one form synced into one CRM account. Enabling it creates the CRM custom fields
the form needs, maps every source and schedules its pull (the beat entry runs `sync_integration`,
named beside the task itself); LinkedIn's lead notifications are a shortcut on top, never the only
path. Teardown stops everything that would touch the form again (the beat entry, the
subscriptions) and keeps the data unless asked to purge it; the mapping is always kept, so
recreate brings the same integration back: its watermark and its stored leads (unique on the
LinkedIn response id) mean it resumes where it stopped and never pushes a lead twice.

No HTTP call is made inside a database transaction (SQLite would block the sandbox that shares it
in the demo and the tests).
"""

import json
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors.exceptions import ApiError, LeadSyncError
from connectors.models import CrmConnection, LeadForm
from connectors.subscriptions import lead_notifications_subscribe, lead_notifications_unsubscribe
from leads.models import Lead, SyncRun
from leads.pipeline.locks import integration_lock_release, integration_lock_take_over
from leads.tasks import purge_expired_personal_data, reconcile_integrations, sweep_notifications, sync_integration
from mappings.audit import SYSTEM, Actor, record_by, row_source
from mappings.models import Integration, IntegrationEvent
from mappings.services import (
    crm_fields_create_for_form,
    form_definition,
    integration_mappings_complete,
    mapping_import_rows,
)

logger = logging.getLogger(__name__)


# A week: beyond it a pull window would outgrow what one run should carry (and LinkedIn keeps leads
# 90 days for a time-bound re-pull).
MAX_SYNC_MINUTES = 7 * 24 * 60
# LinkedIn sends no leads for these (a draft is not live; the others are being made or were retired).
UNSYNCABLE_FORM_STATES = ("DRAFT",)


class IntegrationError(LeadSyncError):
    """The integration cannot be created or changed as asked; the message says why."""


def _refuse_a_second_live_integration(form: LeadForm) -> None:
    if Integration.objects.filter(form=form).exclude(state=Integration.State.TORN_DOWN).exists():
        raise IntegrationError(f"Form {form.linkedin_id} ({form}) already has a live integration.")


# --- enable -----------------------------------------------------------------------------------------

def integration_enable(
    *, form: LeadForm, crm_connection: CrmConnection, every: int | None = None, include_test_leads: bool = False,
    create_fields: bool = True, field_sources=None, lead_types=None, on_linkedin_delete: str | None = None,
    by: Actor | None = SYSTEM,
) -> Integration:
    """Create the integration for a form (LGF-103/104): create the CRM custom fields the form
    needs (all of them, or those of `field_sources`, (kind, key) pairs; none without
    `create_fields`), auto-map every question, hidden field, consent and metadata key to the CRM's
    fields, schedule the pull and subscribe lead notifications. `lead_types` narrows the types
    pulled (default: all the form receives); `on_linkedin_delete` is the reaction to LinkedIn's
    DELETED notifications (default: from LEADSYNC_DELETE_CRM_LEADS); `by` is who enabled it, for
    the audit trail. Refuses a form that already has a live integration,
    whose fields were never discovered, that LinkedIn no longer lists, or that is a draft."""
    _refuse_a_second_live_integration(form)
    definition = form_definition(form)
    if definition is None:
        raise IntegrationError(f"Form {form.linkedin_id} has no discovered fields yet: run `leadsync discover` first.")
    if form.gone_at is not None:
        raise IntegrationError(f"Form {form.linkedin_id} ({form}) is gone from LinkedIn (since {form.gone_at:%Y-%m-%d}).")
    if form.state in UNSYNCABLE_FORM_STATES:
        raise IntegrationError(f"Form {form.linkedin_id} ({form}) is a {form.state.lower()} form: LinkedIn sends it "
                               "no leads. Publish it on LinkedIn, run discovery, then enable it.")
    every = every or settings.LEADSYNC_DEFAULT_SYNC_MINUTES
    if not 1 <= every <= MAX_SYNC_MINUTES:
        raise IntegrationError(f"The schedule must be between every minute and every {MAX_SYNC_MINUTES} minutes "
                               "(a week).")
    lead_types = list(lead_types or form.lead_types)
    unknown = sorted(set(lead_types) - set(form.receives()))
    if unknown:
        raise IntegrationError(f"Form {form.linkedin_id} does not receive {', '.join(unknown)} leads "
                               f"(it receives {', '.join(form.receives())}).")
    choice = {} if on_linkedin_delete is None else {"on_linkedin_delete": _on_delete_choice(on_linkedin_delete)}
    created = []
    if create_fields:  # HTTP: never inside the transaction below
        created = crm_fields_create_for_form(crm_connection=crm_connection, definition=definition,
                                             sources=field_sources)
    with transaction.atomic():
        _refuse_a_second_live_integration(form)
        integration = Integration.objects.create(
            form=form, crm_connection=crm_connection, lead_types=lead_types,
            include_test_leads=include_test_leads, sync_every_minutes=every, **choice,
        )
        integration_mappings_complete(integration=integration)
        integration_schedule(integration=integration)
        rows = list(integration.mappings.order_by("position", "pk"))
        mapped = [{**row_source(row), "crm_field": row.crm_field, "transform": row.transform}
                  for row in rows if row.crm_field]
        record_by(by, integration, IntegrationEvent.Kind.ENABLED,
                  f"Enabled form {form.linkedin_id} into the CRM connection {crm_connection.name}, every {every} "
                  f"minutes; {len(mapped)} of {len(rows)} sources auto-mapped"
                  + (f", {len(created)} CRM field(s) created" if created else "") + ".",
                  {"crm_connection": crm_connection.name, "sync_every_minutes": every, "lead_types": lead_types,
                   "include_test_leads": include_test_leads, "on_linkedin_delete": integration.on_linkedin_delete,
                   "crm_fields_created": created, "auto_mapped": mapped,
                   "not_mapped": [row_source(row) for row in rows if not row.crm_field]})
    _subscribe_or_warn(integration)  # HTTP again, after the commit
    return integration


def _on_delete_choice(value: str) -> str:
    if value not in Integration.OnLinkedInDelete.values:
        raise IntegrationError(f"When LinkedIn deletes a lead, LeadSync can {' or '.join(Integration.OnLinkedInDelete.values)}"
                               f" (erase here only, or here and in the CRM), not {value!r}.")
    return value


def integration_configure(*, integration: Integration, on_linkedin_delete: str | None = None,
                          by: Actor | None = SYSTEM) -> Integration:
    """Change an integration's settings that need no schedule or subscription change: today its
    reaction to LinkedIn's DELETED notifications ("local": erase in LeadSync only; "crm": also
    delete the CRM record). Takes effect for the next notification processed, including those
    already waiting; a torn-down integration takes it too (its stored leads can still be deleted
    on LinkedIn). Writes only that column, so a sync running meanwhile loses nothing."""
    changes = {}
    if on_linkedin_delete is not None:
        changes["on_linkedin_delete"] = _on_delete_choice(on_linkedin_delete)
    if changes:
        before = {name: getattr(integration, name) for name in changes}
        with transaction.atomic():
            Integration.objects.filter(pk=integration.pk).update(**changes, updated_at=timezone.now())
            for name, value in changes.items():
                setattr(integration, name, value)
            integration_edits_record(integration=integration,
                                     changes={name: (before[name], value) for name, value in changes.items()}, by=by)
        logger.info("integration %s configured: %s", integration, changes)
    return integration


# What an edit of these settings is, in the audit trail; the others are "settings changed".
_SETTING_LABELS = {"name": "name", "lead_types": "lead types", "include_test_leads": "push test leads",
                   "on_linkedin_delete": "when LinkedIn deletes a lead", "sync_every_minutes": "every (minutes)",
                   "state": "state"}


def integration_edits_record(*, integration: Integration, changes: dict, by: Actor | None) -> None:
    """Record edits of an integration's settings ({field: (old, new)}, e.g. from its admin page):
    a state change as "paused" or "resumed", an interval as "schedule changed", the rest as one
    "settings changed". Values that did not change are left out; nothing changed, nothing recorded."""
    changes = {name: (old, new) for name, (old, new) in changes.items() if old != new}
    if "state" in changes:
        old, new = changes.pop("state")
        kind = IntegrationEvent.Kind.PAUSED if new == Integration.State.PAUSED else IntegrationEvent.Kind.RESUMED
        record_by(by, integration, kind, f"{'Paused' if kind == IntegrationEvent.Kind.PAUSED else 'Resumed'} "
                  "on the integration's settings.", {"state": {"old": old, "new": new}})
    if "sync_every_minutes" in changes:
        old, new = changes.pop("sync_every_minutes")
        record_by(by, integration, IntegrationEvent.Kind.SCHEDULE_CHANGED,
                  f"Schedule changed: every {new} minutes (was every {old}).",
                  {"sync_every_minutes": {"old": old, "new": new}})
    if changes:
        record_by(by, integration, IntegrationEvent.Kind.SETTINGS_CHANGED,
                  "Settings changed: " + "; ".join(f"{_SETTING_LABELS.get(name, name)} {new!r} (was {old!r})"
                                                  for name, (old, new) in changes.items()) + ".",
                  {name: {"old": old, "new": new} for name, (old, new) in changes.items()})


# --- the schedule -----------------------------------------------------------------------------------

# The beat entries every install with an integration needs: (task, name, every, period, what it does).
HOUSEKEEPING = (
    (sweep_notifications, "LeadSync: process waiting lead notifications", 1, IntervalSchedule.MINUTES,
     "Processes the stored LinkedIn lead notifications still waiting (their task could not be queued, was lost, "
     "or waited for a running sync)."),
    (reconcile_integrations, "LeadSync: reconcile with LinkedIn's counts", 1, IntervalSchedule.DAYS,
     "Compares each active integration's last days with LinkedIn's count of its leads and pulls the window "
     "again where leads are missing."),
    (purge_expired_personal_data, "LeadSync: purge expired personal data", 1, IntervalSchedule.DAYS,
     "Clears the personal data of leads older than LEADSYNC_RETENTION_DAYS (nothing without the setting)."),
)


def housekeeping_schedule_ensure() -> None:
    """Make sure the housekeeping beat entries exist (the notification sweeper every minute, the
    retention purge daily, unless an admin changed them), even if one was deleted."""
    for task, name, every, period, description in HOUSEKEEPING:
        if PeriodicTask.objects.filter(task=task.name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task.name, "interval": interval,
                                                                "description": description})


def integration_schedule(*, integration: Integration) -> PeriodicTask:
    """Create or update the beat entry that runs the integration; enabled only while it is active.
    The notification sweeper's entry is made sure of at the same time."""
    housekeeping_schedule_ensure()
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=integration.sync_every_minutes, period=IntervalSchedule.MINUTES
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"LeadSync: sync integration {integration.pk} (form {integration.form.linkedin_id})",
        defaults=dict(
            task=sync_integration.name, interval=interval, args=json.dumps([integration.pk]),
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


def integration_schedule_follow(*, integration: Integration) -> None:
    """After an edit of the integration's interval or state (the admin's change form): its beat
    entry follows, in the caller's transaction. A torn-down integration keeps none."""
    if integration.state == Integration.State.TORN_DOWN:
        integration_unschedule(integration=integration)
    else:
        integration_schedule(integration=integration)


def integration_pause(*, integration: Integration, by: Actor | None = SYSTEM) -> Integration:
    """Stop the integration's schedule without tearing it down: no scheduled pull runs until it is
    resumed (a manual sync still can); lead notifications are still stored and picked up later.
    IntegrationError for one that is not active, saying what it is."""
    return _set_state(integration, Integration.State.PAUSED, allowed_from=Integration.State.ACTIVE, by=by)


def integration_resume(*, integration: Integration, by: Actor | None = SYSTEM) -> Integration:
    """Start a paused integration's schedule again; its next pull starts from its watermark, so
    nothing submitted meanwhile is missed."""
    return _set_state(integration, Integration.State.ACTIVE, allowed_from=Integration.State.PAUSED, by=by)


def _set_state(integration: Integration, state: str, *, allowed_from: str, by: Actor | None) -> Integration:
    with transaction.atomic():
        current = Integration.objects.select_for_update().get(pk=integration.pk)
        if current.state != allowed_from:
            label = Integration.State(current.state).label.lower()
            if current.state == state:
                raise IntegrationError(f"{integration} is already {label}.")
            raise IntegrationError(f"{integration} is {label}: "
                                   + ("recreate it first." if current.state == Integration.State.TORN_DOWN
                                      else f"only an {Integration.State(allowed_from).label.lower()} one can be."))
        Integration.objects.filter(pk=integration.pk).update(state=state, updated_at=timezone.now())
        integration.state = state
        integration_schedule(integration=integration)
        paused = state == Integration.State.PAUSED
        record_by(by, integration, IntegrationEvent.Kind.PAUSED if paused else IntegrationEvent.Kind.RESUMED,
                  "Paused: no scheduled pull runs until it is resumed." if paused
                  else "Resumed: the next scheduled pull starts from the watermark.",
                  {"state": {"old": allowed_from, "new": state}})
    logger.info("integration %s %s", integration, "paused" if state == Integration.State.PAUSED else "resumed")
    return integration


# --- lead notifications -------------------------------------------------------------------------------

def integration_subscribe(*, integration: Integration) -> list[str]:
    """Subscribe LinkedIn lead notifications for the integration's form when the site has a public
    webhook URL (LEADSYNC_WEBHOOK_URL); without one LeadSync polls on the schedule only."""
    if not settings.LEADSYNC_WEBHOOK_URL:
        return []
    ids = lead_notifications_subscribe(form=integration.form, webhook_url=settings.LEADSYNC_WEBHOOK_URL)
    Integration.objects.filter(pk=integration.pk).update(webhook_subscriptions=ids)
    integration.webhook_subscriptions = ids
    return ids


def _subscribe_or_warn(integration: Integration) -> list[str]:
    """integration_subscribe, with a refusal turned into a warning: the schedule pulls every lead."""
    try:
        integration_subscribe(integration=integration)
    except ApiError as exc:
        logger.warning("%s: lead notifications not subscribed (%s); the schedule pulls every lead", integration, exc)
        return [f"lead notifications could not be subscribed ({exc}); the schedule still pulls every lead"]
    return []


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


# --- teardown and recreate (LGF-108) --------------------------------------------------------------------

def integration_teardown(*, integration: Integration, purge: bool = False, by: Actor | None = SYSTEM) -> dict:
    """Stop the schedule, delete the webhook subscriptions, mark the integration torn down, and
    with `purge` delete its stored leads and runs (personal data). A sync running meanwhile is
    stopped: the teardown takes its lock over, and the sync ends at its next page or CRM call
    (LockLost) keeping what it settled; a purge first waits for it to end (at most the rest of its
    lease). Running it again on a torn-down integration finishes what was left (subscriptions
    LinkedIn refused to delete, a purge); with nothing left it changes nothing and says so
    (`already`)."""
    if integration.state == Integration.State.TORN_DOWN and not integration.webhook_subscriptions and not (
            purge and integration.leads.exists()):
        return {"integration": integration.pk, "form_id": integration.form.linkedin_id, "state": integration.state,
                "already": True, "torn_down_at": integration.torn_down_at, "purged": None, "warnings": []}
    token, busy_until = integration_lock_take_over(integration=integration)
    stopped = busy_until is not None
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
            if stopped:
                _running_runs_wait(integration, until=busy_until)
            with transaction.atomic():
                purged["leads"] = Lead.objects.filter(integration=integration).delete()[0]
                purged["runs"] = SyncRun.objects.filter(integration=integration).delete()[0]
    finally:
        integration_lock_release(integration=integration, token=token)
    integration.refresh_from_db()
    record_by(by, integration, IntegrationEvent.Kind.TORN_DOWN,
              "Torn down: schedule removed" + (f", {purged['leads']} stored leads and {purged['runs']} runs purged"
                                               if purge else ", stored leads kept")
              + (", a running sync stopped" if stopped else "") + "".join(f"; {w}" for w in warnings) + ".",
              {"purge": purge, "purged": purged if purge else None, "stopped_sync": stopped, "warnings": warnings})
    logger.info("integration %s torn down%s%s", integration, " and purged" if purge else "",
                " (a running sync of it was stopped)" if stopped else "")
    return {"integration": integration.pk, "form_id": integration.form.linkedin_id, "state": integration.state,
            "already": False, "torn_down_at": integration.torn_down_at, "purged": purged if purge else None,
            "stopped_sync": stopped, "warnings": warnings}


def _running_runs_wait(integration, *, until, step=0.5):
    """Wait until the integration's running sync, told to stop, has ended (its run is no longer
    running), or its lease would have run out: a process that died holding it ends nothing."""
    while (SyncRun.objects.filter(integration=integration, state=SyncRun.State.RUNNING).exists()
           and timezone.now() < until):
        _sleep(step)


_sleep = time.sleep


def integration_recreate(*, form: LeadForm, mapping: dict | None = None, by: Actor | None = SYSTEM) -> dict:
    """Bring back the form's torn-down integration with its saved mapping (completed with any
    source a newer form version added), its schedule and its subscriptions. It resumes from its
    watermark; leads already stored are never pushed again. With `mapping` (a mapping document,
    mappings.services.mapping_export) the saved mapping first becomes what the document says, in
    the same transaction: a document mapping_import refuses (MappingError) leaves the integration
    torn down and its mapping as it was."""
    _refuse_a_second_live_integration(form)
    integration = (Integration.objects.filter(form=form, state=Integration.State.TORN_DOWN)
                   .select_related("form__owner__connection", "crm_connection").order_by("-torn_down_at", "-pk").first())
    if integration is None:
        raise IntegrationError(f"Form {form.linkedin_id} has no torn-down integration to recreate: use `leadsync enable`.")
    with transaction.atomic():
        imported, rows = (None, []) if mapping is None else mapping_import_rows(integration=integration,
                                                                                 document=mapping)
        now = timezone.now()
        Integration.objects.filter(pk=integration.pk).update(
            state=Integration.State.ACTIVE, torn_down_at=None, recreated_at=now, updated_at=now)
        integration.state, integration.torn_down_at, integration.recreated_at = Integration.State.ACTIVE, None, now
        added = integration_mappings_complete(integration=integration)
        integration_schedule(integration=integration)
        record_by(by, integration, IntegrationEvent.Kind.RECREATED,
                  "Recreated from " + (f"a mapping document ({imported['updated']} row(s) changed, {imported['created']} "
                                       "added)" if imported else "its saved mapping")
                  + f", {added} new source(s) mapped; it resumes from its watermark.",
                  {"mapping_imported": imported, "rows": rows, "mappings_added": added})
    warnings = _subscribe_or_warn(integration)
    return {"integration": integration.pk, "form_id": form.linkedin_id, "state": integration.state,
            "watermark": integration.watermark, "mappings_added": added, "mapping_imported": imported,
            "leads_kept": integration.leads.count(), "warnings": warnings}
