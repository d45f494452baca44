"""What staff do with leads that will not sync: set them aside ("ignore", with a reason) and take
them back ("un-ignore"). The admin's actions and `leadsync ignore` / `unignore` both call these.

An ignored lead is out of every count of leads waiting for staff and is never pushed or retried:
the push takes pending leads only, a retry failed ones only. Only a failed or a pending lead can be
ignored; the others (synced, skipped, deleted) are reported and left alone. Each lead changed gets
an "ignored" or "unignored" event on its history (by the admin user, or "cli").
"""

from dataclasses import dataclass, field

from django.utils import timezone

from leads import events
from leads.models import Lead, LeadEvent
from leads.pipeline.locks import SyncBusy, integration_locked
from mappings.models import Integration

IGNORABLE = (Lead.State.FAILED, Lead.State.PENDING)


@dataclass
class ReviewResult:
    """What became of the leads asked about, by LinkedIn response id: `done` changed; `left` not
    in a state this applies to ({linkedin_id: state}, left alone); `busy` pending leads of an
    integration a sync was pushing at that moment (left alone: try again once it ends)."""

    done: list = field(default_factory=list)
    left: dict = field(default_factory=dict)
    busy: list = field(default_factory=list)


def _via(by: str) -> str:
    return LeadEvent.Via.CLI if by == "cli" else LeadEvent.Via.ADMIN


def _clean_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required to ignore leads: say why they are set aside.")
    return reason


def leads_ignore(*, leads, reason: str, by: str) -> ReviewResult:
    """Set the failed and pending leads among `leads` (a Lead queryset) aside, with `reason`, who
    (`by`) and when. Raises ValueError, changing nothing, for an empty reason.

    Each lead changes in one guarded UPDATE (only from failed or pending), so a lead whose state
    moved meanwhile is not overwritten. A pending lead may be in a push that is under way, which
    would write its outcome over the ignore: pending leads are ignored under their integration's
    lock, and those of an integration a sync holds are reported `busy` and left alone. A failed
    lead needs no lock: no push takes a failed lead, and a retry turns it pending in one UPDATE
    under the lock, so either the retry or the ignore wins, whole."""
    reason = _clean_reason(reason)
    result = ReviewResult()
    rows = list(leads.order_by().values_list("pk", "linkedin_id", "state", "integration_id"))
    failed, pending = [], {}
    for pk, linkedin_id, state, integration_id in rows:
        if state == Lead.State.FAILED:
            failed.append(pk)
        elif state == Lead.State.PENDING:
            pending.setdefault(integration_id, []).append(pk)
        else:
            result.left[linkedin_id] = state
    now = timezone.now()
    changes = dict(state=Lead.State.IGNORED, ignored_reason=reason, ignored_by=by[:150], ignored_at=now,
                   retry_at=None, updated_at=now)

    def ignore(pks, state):
        Lead.objects.filter(pk__in=pks, state=state).update(**changes)

    ignore(failed, Lead.State.FAILED)
    for integration in Integration.objects.filter(pk__in=pending).order_by("pk"):
        try:
            with integration_locked(integration=integration):
                ignore(pending[integration.pk], Lead.State.PENDING)
        except SyncBusy:
            held = set(pending[integration.pk])
            result.busy += [linkedin_id for pk, linkedin_id, *_ in rows if pk in held]
    asked = [pk for pk, *_ in rows]
    done = dict(Lead.objects.filter(pk__in=asked, state=Lead.State.IGNORED, ignored_at=now)
                .values_list("pk", "linkedin_id"))
    result.done = list(done.values())
    # The reason goes under "text": staff may name the person in it, so an erasure scrubs it.
    events.record(done, LeadEvent.Kind.IGNORED, by, _via(by), detail={"text": reason})
    # A lead that changed state between the read and its UPDATE (a push settled it) says what it is now.
    settled = set(result.done) | set(result.busy) | set(result.left)
    missing = [linkedin_id for _, linkedin_id, *_ in rows if linkedin_id not in settled]
    if missing:
        result.left.update(Lead.objects.filter(linkedin_id__in=missing).values_list("linkedin_id", "state"))
    return result


def leads_unignore(*, leads, by: str) -> ReviewResult:
    """Take the ignored leads among `leads` back: they are failed again (with their last error),
    so that a retry pushes them. The ignore's reason, who and when are cleared. Leads that are not
    ignored are reported in `left` and left alone. `by` names who did it."""
    result = ReviewResult()
    rows = list(leads.order_by().values_list("pk", "linkedin_id", "state"))
    ignored = [pk for pk, _, state in rows if state == Lead.State.IGNORED]
    result.left = {linkedin_id: state for _, linkedin_id, state in rows if state != Lead.State.IGNORED}
    now = timezone.now()
    Lead.objects.filter(pk__in=ignored, state=Lead.State.IGNORED).update(
        state=Lead.State.FAILED, ignored_reason="", ignored_by="", ignored_at=None, retry_at=None, updated_at=now)
    done = dict(Lead.objects.filter(pk__in=ignored, state=Lead.State.FAILED, updated_at=now)
                .values_list("pk", "linkedin_id"))
    result.done = list(done.values())
    events.record(done, LeadEvent.Kind.UNIGNORED, by, _via(by))
    lost = {linkedin_id for _, linkedin_id, state in rows if state == Lead.State.IGNORED} - set(result.done)
    if lost:
        result.left.update(Lead.objects.filter(linkedin_id__in=lost).values_list("linkedin_id", "state"))
    return result
