"""`leadsync edit-answers LINKEDIN_ID --answer KEY=VALUE ... [--hidden NAME=VALUE ...] [--retry]` and
`leadsync history LINKEDIN_ID`: the twins of the lead page's "Edit the answers" (with "Save and
retry") and its History section; edits and retries are recorded as done by "cli"."""

from leads import events
from leads.answers import HIDDEN, QUESTION, AnswerEditRefused, editable_answers, lead_answers_edit
from leads.cli.base import failed, subcommand, usage
from leads.history import lead_history
from leads.models import Lead, LeadEvent
from leads.pipeline.locks import SyncBusy
from leads.pipeline.sync import leads_retry_failed


def register(subparsers):
    p = subcommand(subparsers, "edit-answers", edit_answers,
                   help="correct a failed, pending or ignored lead's answers (never what LinkedIn sent), "
                        "then optionally push it again")
    p.add_argument("linkedin_id", metavar="LINKEDIN_ID", help="the lead's LinkedIn response id")
    p.add_argument("--answer", action="append", default=[], metavar="QUESTION_ID=VALUE",
                   help="a question's new answer; for a choice question give it once per choice "
                        "(QUESTION_ID= alone clears it)")
    p.add_argument("--hidden", action="append", default=[], metavar="NAME=VALUE", help="a hidden field's new value")
    p.add_argument("--retry", action="store_true", help="push the lead again now if it has failed")
    p = subcommand(subparsers, "history", history, help="a lead's history: pulled, each push, each edit and retry")
    p.add_argument("linkedin_id", metavar="LINKEDIN_ID", help="the lead's LinkedIn response id")


def _lead(options) -> Lead:
    lead = Lead.objects.select_related("integration__form").filter(linkedin_id=options["linkedin_id"].strip()).first()
    if lead is None:
        raise usage(f"No stored lead with LinkedIn response id {options['linkedin_id']!r}.")
    return lead


def _pairs(items, option):
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise usage(f"{option} {item!r}: expected KEY=VALUE.")
        yield key.strip(), value


def _values(lead, options) -> dict:
    """{(kind, key): value} in each answer's own shape: repeated --answer of a choice question make
    its list; of a text question they are bad usage. Unknown keys go on to the service, which
    refuses them with the rest."""
    types = {(row["kind"], row["key"]): row["type"] for row in editable_answers(lead)}
    values = {}
    for key, value in _pairs(options["answer"], "--answer"):
        if types.get((QUESTION, key)) == "multiple_choice":
            values.setdefault((QUESTION, key), [])
            if value.strip():
                values[(QUESTION, key)].append(value)
        elif (QUESTION, key) in values:
            raise usage(f"--answer {key}= is given twice and question {key} takes one text.")
        else:
            values[(QUESTION, key)] = value
    for key, value in _pairs(options["hidden"], "--hidden"):
        if (HIDDEN, key) in values:
            raise usage(f"--hidden {key}= is given twice.")
        values[(HIDDEN, key)] = value
    if not values:
        raise usage("Nothing to edit: give --answer QUESTION_ID=VALUE or --hidden NAME=VALUE.")
    return values


def edit_answers(command, options):
    """Exit 2 (nothing changed) for an unknown lead or key or a value of the wrong shape; 1 when the
    lead may not be edited (synced, deleted, skipped) or --retry found a sync holding it, or the run failed."""
    lead = _lead(options)
    values = _values(lead, options)
    try:
        changes = lead_answers_edit(lead=lead, values=values, actor="cli", via=LeadEvent.Via.CLI)
    except AnswerEditRefused as exc:
        raise (usage(str(exc)) if exc.errors else failed(str(exc)))
    data = {"ok": True, "linkedin_id": lead.linkedin_id, "changes": changes, "retry": None}
    lines = [f"lead {lead.linkedin_id}: changed {len(changes)} answer(s)"
             + (": " + ", ".join(f"{c['kind']} {c['key']}" for c in changes) if changes else "")]
    if options["retry"]:
        if lead.state != Lead.State.FAILED:
            lines.append(f"not retried: the lead is {lead.state}" + (" (the next sync pushes it)"
                                                                     if lead.state == Lead.State.PENDING else ""))
        else:
            try:
                run = leads_retry_failed(integration=lead.integration, lead_ids=[lead.pk], progress=command.progress)
            except SyncBusy:
                raise failed("The answers were saved, but a sync of the lead's integration is running: retry it "
                             f"once it ends (`leadsync retry-failed {lead.integration.form.linkedin_id}`).", data)
            events.record(getattr(run, "retried_lead_ids", []), LeadEvent.Kind.RETRIED, "cli", LeadEvent.Via.CLI,
                          detail={"run": run.pk})
            lead.refresh_from_db(fields=["state", "crm_id", "last_error"])
            data["retry"] = {"run": run.pk, "state": run.state, "error": run.error, "lead_state": lead.state,
                             "crm_id": lead.crm_id, "lead_error": lead.last_error}
            lines.append(f"retried in run {run.pk}: the lead is {lead.state}"
                         + (f" ({lead.last_error})" if lead.last_error else ""))
            if run.state != "succeeded":
                raise failed("; ".join(lines) + (f"; error: {run.error}" if run.error else ""), data)
    command.emit(data, text="\n".join(lines))
    return True


def history(command, options):
    lead = _lead(options)
    entries = [{key: entry.get(key) for key in ("at", "kind", "what", "who", "via", "run_id", "outcome", "error", "lines")}
               for entry in lead_history(lead=lead)]
    lines = [f"{e['at']:%Y-%m-%d %H:%M:%S}  {e['what']}" + (f" [{e['outcome']}]" if e["outcome"] else "")
             + f"  by {e['who']}" + (f" ({e['via']})" if e["via"] else "") + (f"  run {e['run_id']}" if e["run_id"] else "")
             + (f"  {e['error']}" if e["error"] else "") + "".join(f"\n    {line}" for line in e["lines"])
             for e in entries]
    command.emit({"ok": True, "linkedin_id": lead.linkedin_id, "state": lead.state, "history": entries},
                 text="\n".join(lines))
    return True
