"""The leads' history of what staff did to them (LeadEvent): written here, in one INSERT however
many leads, and cleared here when a person's data goes. Never called by the pull or the push:
what those did is the lead's created_at and its LeadAttempts, and their hot path stays free of it."""

from django.utils import timezone

from leads.models import Lead, LeadEvent

# Detail keys that may carry the person's data (an edit's values, a note's text); an erasure
# drops them and keeps the rest (which answer keys changed, the run).
PERSONAL_DETAIL = ("before", "after", "text")


def record(leads_or_lead, kind, actor, via, detail=None) -> list[LeadEvent]:
    """One event of `kind` for each lead (a Lead, or an iterable of Leads or lead ids), all at one
    moment, in one bulk INSERT. `actor` is the admin user's username, or "cli"; `via` a
    LeadEvent.Via. Returns the events (empty for no leads)."""
    items = [leads_or_lead] if isinstance(leads_or_lead, (Lead, int)) else list(leads_or_lead)
    at = timezone.now()
    events = [LeadEvent(lead_id=item.pk if isinstance(item, Lead) else item, at=at, kind=kind,
                        actor=str(actor)[:150], via=via, detail=detail or {}) for item in items]
    return LeadEvent.objects.bulk_create(events) if events else []


def events_forget(recorded) -> None:
    """Take back events just recorded (by `record`) for work that could not be started after all."""
    LeadEvent.objects.filter(pk__in=[event.pk for event in recorded if event.pk]).delete()


def events_scrub(*, lead_ids) -> int:
    """Drop the personal values (PERSONAL_DETAIL) from the events of these leads, keeping what was
    done, by whom and to which answer keys. Only events that hold such values are rewritten (edits
    and notes are few). Returns how many were."""
    changed = []
    for event in LeadEvent.objects.filter(lead_id__in=list(lead_ids), kind__in=[LeadEvent.Kind.EDITED,
                                                                               LeadEvent.Kind.NOTE,
                                                                               LeadEvent.Kind.IGNORED]).only("detail"):
        detail = _scrubbed(event.detail)
        if detail != event.detail:
            event.detail = detail
            changed.append(event)
    LeadEvent.objects.bulk_update(changed, ["detail"], batch_size=500)
    return len(changed)


def _scrubbed(detail):
    if not isinstance(detail, dict):
        return {}
    kept = {key: value for key, value in detail.items() if key not in PERSONAL_DETAIL and key != "changes"}
    if isinstance(detail.get("changes"), list):
        kept["changes"] = [{k: v for k, v in change.items() if k not in PERSONAL_DETAIL}
                           for change in detail["changes"] if isinstance(change, dict)]
    return kept
