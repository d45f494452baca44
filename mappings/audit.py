"""The integrations' audit trail: who did what to an integration, and from where.

`record` writes one IntegrationEvent. The services that change an integration (enable, pause,
resume, teardown, recreate, the mapping's edits and imports, a sync or reconcile started by hand)
take a `by` (an `Actor`: the admin user, the CLI, or LeadSync itself) and record the event
themselves, in their own transaction where they have one, so the admin and the CLI leave the same
trail. A service called with `by=None` records nothing: its caller records the one event of the
whole action (recreate with a mapping file is one event, not an import and a recreate).

What an event holds is chosen here, never copied from a request or a row wholesale: source names,
CRM field names, transforms, settings. No credential and nothing a lead answered."""

from typing import NamedTuple

from mappings.models import FieldMapping, Integration, IntegrationEvent


class Actor(NamedTuple):
    """Who did it (`actor`: a user name, "cli" or "system") and where (`via`, IntegrationEvent.Via)."""

    actor: str
    via: str


CLI = Actor("cli", IntegrationEvent.Via.CLI)
SYSTEM = Actor("system", IntegrationEvent.Via.SYSTEM)


def admin_user(user) -> Actor:
    """The admin user who clicked."""
    return Actor(user.get_username(), IntegrationEvent.Via.ADMIN)


def record(integration: Integration, kind: str, actor: str, via: str, summary: str, detail=None) -> IntegrationEvent:
    """Write one event of `integration`'s audit trail; the caller's transaction, if any, holds it."""
    return IntegrationEvent.objects.create(integration_id=integration.pk, kind=kind, actor=actor[:150], via=via,
                                           summary=summary, detail=detail or {})


def record_by(by: Actor | None, integration: Integration, kind: str, summary: str, detail=None) -> None:
    """`record` for a service's `by`: nothing when `by` is None (its caller records the action)."""
    if by is not None:
        record(integration, kind, by.actor, by.via, summary, detail)


# --- what a mapping change says -----------------------------------------------------------------------------

# The columns of a row an edit or an import changes, in the order an event lists them.
ROW_COLUMNS = ("crm_field", "transform", "transform_option", "enabled", "position")


def row_source(row) -> dict:
    return {"source_kind": row.source_kind, "source_key": row.source_key, "source_label": row.source_label}


def row_change(row, old: dict, new: dict) -> dict | None:
    """One row's change ({column: {"old", "new"}} for each column that differs), or None."""
    changes = {column: {"old": old.get(column), "new": new.get(column)} for column in ROW_COLUMNS
               if column in new and old.get(column) != new.get(column)}
    return {**row_source(row), "changes": changes} if changes else None


def row_values(row) -> dict:
    return {column: getattr(row, column) for column in ROW_COLUMNS}


def rows_text(rows: list[dict], *, limit=5) -> str:
    """"First name → firstName, Email: transform lower" for a summary (the detail has every row)."""
    def one(row):
        label = row["source_label"] or row["source_key"]
        changes = row["changes"]
        if "crm_field" in changes:
            return f"{label} → {changes['crm_field']['new'] or '(not synced)'}"
        return f"{label}: " + ", ".join(f"{column.replace('_', ' ')} {change['new']!r}"
                                        for column, change in changes.items())
    text = "; ".join(one(row) for row in rows[:limit])
    return text + (f"; and {len(rows) - limit} more" if len(rows) > limit else "")


def mapping_edited(*, integration: Integration, rows: list[dict], by: Actor | None) -> None:
    """An edit of mapping rows in the admin (the integration's editor, the mapping list, a row's
    page): one event listing each row changed; nothing when no row changed."""
    rows = [row for row in rows if row]
    if rows:
        record_by(by, integration, IntegrationEvent.Kind.MAPPING_CHANGED,
                  f"Mapping edited, {len(rows)} row(s): {rows_text(rows)}.", {"rows": rows})


def form_edits(form) -> dict | None:
    """The change a mapping row's admin form made (its initial values against what it saved)."""
    if not form.has_changed() or form.instance is None:
        return None
    old = {column: form.initial.get(column) for column in ROW_COLUMNS if column in form.initial}
    new = {column: form.cleaned_data[column] for column in form.changed_data
           if column in ROW_COLUMNS and column in form.cleaned_data}
    return row_change(form.instance, old, new)


def sync_started(*, integration: Integration, by: Actor, trigger: str, days=None, since=None, run=None,
                 busy=False) -> None:
    """A sync, backfill or retry of failed leads started by hand: the admin records it as it queues
    it, the CLI once it ran (with its run, or `busy` when another sync held the integration)."""
    what = {"manual": "Sync (pull and push) started", "retry": "Retry of the failed leads started",
            "backfill": "Backfill started",
            "schedule": "Its scheduled sync run now from the beat schedules list"}.get(str(trigger), f"{trigger} started")
    window = f" for the last {days} days" if days else f" from {since.isoformat()}" if since else ""
    detail = {"trigger": str(trigger), "days": days, "since": since.isoformat() if since else None}
    if run is not None:
        detail.update(run=run.pk, run_state=run.state)
    tail = f" (run {run.pk}: {run.state})" if run is not None else \
        " (another sync of it was running: left to it)" if busy else ""
    record(integration, IntegrationEvent.Kind.SYNC_STARTED, by.actor, by.via, what + window + tail + ".", detail)

