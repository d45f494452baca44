"""Correcting a lead's answers before it is pushed again: a typo in an e-mail address, a choice the
CRM does not know. Only the normalised answers (Lead.answers, what the push maps) change; `raw`
stays exactly as LinkedIn sent it. Only values of answers the lead already has change, in their
own shape (a text stays a text, a choice a list of texts); consents never do (staff cannot give
consent for a member). Each edit is recorded (LeadEvent "edited", with before and after)."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from connectors.exceptions import BadPayload
from connectors.payloads import check_storable
from leads import events
from leads.models import Lead, LeadEvent
from leads.pipeline.locks import SyncBusy, integration_locked
from leads.pipeline.pull import EMAIL_FIELDS, email_of

# A synced lead's answers are the CRM's now (an edit here would not reach it); a deleted or
# skipped one has nothing to push. Ignored leads (when that state exists) may be fixed and retried.
EDITABLE_STATES = tuple(state for state in (Lead.State.FAILED, Lead.State.PENDING, getattr(Lead.State, "IGNORED", None))
                        if state)
MAX_TEXT = 4000     # longer than any CRM text field takes
MAX_CHOICES = 50

QUESTION, HIDDEN = "question", "hidden"


class AnswerEditRefused(ValueError):
    """The edit was refused as a whole; nothing changed. `errors` maps "kind:key" to why."""

    def __init__(self, message, errors=None, busy=False):
        super().__init__(message)
        self.errors = errors or {}
        self.busy = busy


def lead_answers_editable(lead: Lead) -> bool:
    return lead.state in EDITABLE_STATES


def editable_answers(lead: Lead) -> list[dict]:
    """What may be edited on this lead: each question and hidden field it has, with its kind, key,
    type ("text" or "multiple_choice") and value, in the lead's order."""
    answers = lead.answers if isinstance(lead.answers, dict) else {}
    rows = []
    for key, answer in (answers.get("answers") or {}).items():
        if isinstance(answer, dict):
            rows.append({"kind": QUESTION, "key": str(key), "answer": answer,
                         "type": "multiple_choice" if answer.get("type") == "multiple_choice" else "text",
                         "value": answer.get("value")})
    for name, value in (answers.get("hidden_fields") or {}).items():
        rows.append({"kind": HIDDEN, "key": str(name), "answer": None, "type": "text", "value": value})
    return rows


def _clean(row, value):
    """`value` in the row's shape, or ValidationError."""
    if row["type"] == "multiple_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("A choice answer is a list of texts.")
        value = [v.strip() for v in value if v.strip()]
        if len(value) > MAX_CHOICES:
            raise ValidationError(f"At most {MAX_CHOICES} choices.")
        if any(len(v) > MAX_TEXT for v in value):
            raise ValidationError(f"A choice is at most {MAX_TEXT} characters.")
        return value
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("This answer is a text.")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValidationError(f"At most {MAX_TEXT} characters.")
    if value and row["answer"] and row["answer"].get("predefined_field") in EMAIL_FIELDS:
        validate_email(value)
    if not value and row["value"] is None:
        return None  # an empty box for an answer LinkedIn sent none for leaves it so
    return value


def lead_answers_edit(*, lead: Lead, values: dict, actor: str, via: str) -> list[dict]:
    """See _edit. A pending lead is one a sync may be pushing: it is edited under its integration's
    lock, and refused (AnswerEditRefused, `busy`) while a sync holds it, so a push never sends
    half an edit nor settles the lead over one. A failed or ignored lead needs no lock: no push
    takes it, and a retry turns it pending in one UPDATE under the lock."""
    if lead.state != Lead.State.PENDING:
        return _edit(lead=lead, values=values, actor=actor, via=via)
    try:
        with integration_locked(integration=lead.integration):
            return _edit(lead=lead, values=values, actor=actor, via=via)
    except SyncBusy:
        raise AnswerEditRefused("A sync of the lead's integration is pushing it: edit it once the sync ends "
                                "(see Sync runs).", busy=True) from None


def _edit(*, lead: Lead, values: dict, actor: str, via: str) -> list[dict]:
    """Set the answers of `values` ({(kind, key): value}, kind "question" or "hidden") on the lead.
    Refused as a whole (AnswerEditRefused, nothing changed) for a lead not in EDITABLE_STATES, a
    key the lead does not have, or a value of another shape. Unchanged values are left out; the
    changes are saved with the lead's e-mail column (the push matches on it) and recorded as one
    "edited" event. Returns the changes ([] when nothing changed, and then nothing is recorded)."""
    with transaction.atomic():
        locked = Lead.objects.select_for_update().only("pk", "state", "answers", "email").get(pk=lead.pk)
        if locked.state == Lead.State.PENDING and lead.state != Lead.State.PENDING:
            # A retry took it up since it was read (without the lock): the caller tries again.
            raise AnswerEditRefused("The lead is being pushed again: edit it once that push ends.", busy=True)
        if not lead_answers_editable(locked):
            raise AnswerEditRefused(f"A {locked.get_state_display().lower()} lead's answers cannot be edited: only "
                                    "failed, pending or ignored leads (a synced lead is already in the CRM).")
        rows = {(row["kind"], row["key"]): row for row in editable_answers(locked)}
        errors, changes = {}, []
        for (kind, key), value in values.items():
            row = rows.get((kind, str(key)))
            if row is None:
                errors[f"{kind}:{key}"] = "The lead has no such answer; only existing answers can be edited."
                continue
            try:
                value = _clean(row, value)
                check_storable(value, what="answer")
            except ValidationError as exc:
                errors[f"{kind}:{key}"] = " ".join(exc.messages)
                continue
            except BadPayload as exc:
                errors[f"{kind}:{key}"] = exc.message
                continue
            if value != row["value"]:
                changes.append({"kind": kind, "key": row["key"], "before": row["value"], "after": value})
        if errors:
            raise AnswerEditRefused("The answers were not changed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                                    errors)
        if not changes:
            return []
        answers = {**locked.answers}
        for change in changes:
            if change["kind"] == QUESTION:
                answers["answers"] = {**answers["answers"]}
                answers["answers"][change["key"]] = {**answers["answers"][change["key"]], "value": change["after"]}
            else:
                answers["hidden_fields"] = {**answers["hidden_fields"], change["key"]: change["after"]}
        Lead.objects.filter(pk=locked.pk).update(answers=answers, email=email_of(answers), updated_at=timezone.now())
        events.record(locked, LeadEvent.Kind.EDITED, actor, via, detail={"changes": changes})
    lead.refresh_from_db(fields=["answers", "email"])
    return changes
