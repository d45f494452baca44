"""One lead's history, oldest first: when it was pulled (and by which run, when that is known), each
push (LeadAttempt) and everything staff did to it (LeadEvent). The pull and the push write no
history of their own: their part is derived from the lead and its attempts. Two queries beyond
the attempts, whatever the lead's length of history."""

from django.db.models import Q

from leads.models import Lead, LeadEvent, SyncRun


def _pulling_run(lead: Lead):
    """The integration's run that was running when the lead was stored, or None (a lead stored
    before runs were kept, or the run deleted since)."""
    return (SyncRun.objects.filter(integration_id=lead.integration_id, started_at__lte=lead.created_at)
            .filter(Q(finished_at__gte=lead.created_at) | Q(finished_at__isnull=True))
            .only("pk", "trigger", "integration_id").order_by("-started_at", "-pk").first())


def _change_text(change: dict) -> str:
    label = f"{'hidden field' if change.get('kind') == 'hidden' else 'question'} {change.get('key')}"
    if "before" not in change and "after" not in change:
        return label
    return f"{label}: {_value(change.get('before'))} → {_value(change.get('after'))}"


def _value(value) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def _event_entry(event: LeadEvent) -> dict:
    detail = event.detail if isinstance(event.detail, dict) else {}
    lines = [_change_text(c) for c in detail.get("changes") or [] if isinstance(c, dict)]
    if event.kind == LeadEvent.Kind.NOTE and detail.get("text"):
        lines.append(str(detail["text"]))
    return {"at": event.at, "kind": event.kind, "what": event.get_kind_display(), "who": event.actor,
            "via": event.get_via_display(), "run_id": detail.get("run"),
            "run_label": f"Retry run {detail['run']}" if detail.get("run") else "", "lines": lines,
            "outcome": "", "error": ""}


def lead_history(*, lead: Lead, attempts=None) -> list[dict]:
    """The lead's history entries, oldest first (ties: pulled, then pushes, then events, each in
    its own order). `attempts`: the lead's LeadAttempts with their runs, when the caller has them
    already. Each entry: at, kind ("pulled", "push" or a LeadEvent kind), what, who, via, run_id,
    run_label, lines (what changed), outcome, error."""
    if attempts is None:
        attempts = list(lead.push_attempts.select_related("run").order_by("at", "pk"))
    run = _pulling_run(lead)
    entries = [(lead.created_at, 0, 0, {
        "at": lead.created_at, "kind": "pulled", "what": "Pulled from LinkedIn", "who": "LeadSync", "via": "",
        "run_id": run.pk if run else None, "run_label": f"{run.get_trigger_display()} run {run.pk}" if run else "",
        "lines": [], "outcome": "", "error": ""})]
    for index, attempt in enumerate(attempts):
        entries.append((attempt.at, 1, index, {
            "at": attempt.at, "kind": "push", "what": f"Push {attempt.number}", "who": "LeadSync", "via": "",
            "run_id": attempt.run_id,
            "run_label": f"{attempt.run.get_trigger_display()} run {attempt.run_id}" if attempt.run_id else "",
            "lines": [], "outcome": attempt.outcome, "outcome_label": attempt.get_outcome_display(),
            "error": " ".join(filter(None, [attempt.error_code, attempt.message])),
        }))
    for index, event in enumerate(LeadEvent.objects.filter(lead_id=lead.pk).order_by("at", "pk")):
        entries.append((event.at, 2, index, _event_entry(event)))
    return [entry for *_, entry in sorted(entries, key=lambda e: e[:3])]

