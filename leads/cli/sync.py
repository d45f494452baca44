"""`leadsync sync` and `retry-failed`: pull and push now, in this process."""

import re

from leads.cli.base import failed, parse_since, subcommand, usage
from leads import events
from leads.models import Lead, LeadEvent, SyncRun
from leads.pipeline.locks import SyncBusy
from leads.pipeline.reconcile import DEFAULT_DAYS, integration_reconcile
from leads.pipeline.sync import integrations_sync, leads_retry_failed
from leads.pipeline.windows import MAX_BACKFILL_DAYS
from leads.tasks import sync_fan_out
from mappings.audit import CLI, sync_started
from mappings.models import Integration


def register(subparsers):
    p = subcommand(subparsers, "sync", sync, help="pull and push now, in this process")
    p.add_argument("form_ids", nargs="*", metavar="FORM_ID")
    window = p.add_mutually_exclusive_group()
    window.add_argument("--days", type=int, metavar="N", help="re-pull the last N days (at most 90)")
    window.add_argument("--since", metavar="ISO8601", help="re-pull from this moment")
    p.add_argument("--queue", action="store_true",
                   help="queue it for the Celery workers instead, split in parts (one per owner and lead type) that "
                        "several workers run at once; prints the parts' task ids")

    p = subcommand(subparsers, "retry-failed", retry_failed, help="push failed leads again")
    p.add_argument("form_ids", nargs="*", metavar="FORM_ID")
    p.add_argument("--error", action="append", metavar="CODE", dest="error_codes",
                   help="only the leads failed with this error code (as the lead list shows it: the CRM's code, "
                        "or lost / unreachable / mapping / contradiction); may be given more than once")

    p = subcommand(subparsers, "reconcile", reconcile, help="compare LinkedIn's counts with what is stored; "
                                                            "pull again where leads are missing")
    p.add_argument("form_ids", nargs="*", metavar="FORM_ID")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS, metavar="N",
                   help=f"the last N days (default {DEFAULT_DAYS}, at most {MAX_BACKFILL_DAYS})")


def _integrations(form_ids):
    """The live integrations of the named forms (an unknown one is bad usage), or every active one."""
    qs = Integration.objects.exclude(state=Integration.State.TORN_DOWN).select_related(
        "form__owner__connection", "crm_connection")
    if form_ids:
        found = list(qs.filter(form__linkedin_id__in=form_ids))
        missing = set(form_ids) - {i.form.linkedin_id for i in found}
        if missing:
            raise usage(f"No integration for form(s) {', '.join(sorted(missing))}: use `leadsync enable` first.")
        return found
    found = list(qs.filter(state=Integration.State.ACTIVE))
    if not found:
        raise failed("No active integration: enable a form with `leadsync enable FORM_ID --crm NAME`.")
    return found


def sync(command, options):
    since = parse_since(options.get("since"))
    trigger = SyncRun.Trigger.BACKFILL if (options.get("days") or since) else SyncRun.Trigger.MANUAL
    integrations = _integrations(options["form_ids"])
    if options.get("queue"):
        return _queue(command, integrations, trigger, days=options.get("days"), since=since)
    try:
        runs = integrations_sync(integrations=integrations, trigger=trigger, days=options.get("days"), since=since,
                                 progress=command.progress, skip_busy=True)
    except ValueError as exc:  # a window the pipeline refuses: --days beyond 1…90, --since over a year back
        raise usage(str(exc))
    by_integration = {run.integration_id: run for run in runs}
    for integration in integrations:
        sync_started(integration=integration, by=CLI, trigger=trigger, days=options.get("days"), since=since,
                     run=by_integration.get(integration.pk), busy=integration.pk not in by_integration)
    busy = [i for i in integrations if i.pk not in by_integration]
    return _report_runs(command, runs, busy=busy, named=bool(options["form_ids"]))


def _queue(command, integrations, trigger, *, days, since):
    """`sync --queue`: the parts queued (leads.tasks.sync_fan_out); exit 0 once they are, whatever
    they will find (the runs say, in the admin or `leadsync runs`)."""
    try:
        queued = sync_fan_out(integrations=integrations, trigger=trigger, days=days, since=since)
    except ValueError as exc:
        raise usage(str(exc))
    except Exception as exc:  # noqa: BLE001 - the broker's many failure types
        raise failed(f"The sync could not be queued: the broker did not take it ({type(exc).__name__}). Run it here "
                     "without --queue, or check CELERY_BROKER_URL.")
    for integration in integrations:
        sync_started(integration=integration, by=CLI, trigger=trigger, days=days, since=since)
    parts = [{"task": task_id, "owner": part[0].form.owner.urn,
              "lead_types": sorted(part[0].lead_types or part[0].form.receives()),
              "integrations": [i.pk for i in part], "form_ids": [i.form.linkedin_id for i in part]} for part, task_id in queued]
    lines = [f"part {n}: task {p['task']}, {p['owner']} {'/'.join(p['lead_types'])}: form(s) {', '.join(p['form_ids'])}"
             for n, p in enumerate(parts, 1)]
    command.emit({"ok": True, "trigger": str(trigger), "parts": parts},
                 text="\n".join([f"queued {len(parts)} part(s) on the sync queue"] + lines))
    return True


# What Lead.error_code holds: a CRM code (205), a word (lost, unreachable), http-503, an exception's name.
ERROR_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _error_codes(values):
    if values is None:
        return None
    max_length = Lead._meta.get_field("error_code").max_length
    codes = [value.strip() for value in values]
    for code in codes:
        if not ERROR_CODE.fullmatch(code) or len(code) > max_length:
            raise usage(f"--error {code!r} is not an error code: a CRM code such as 205, or lost, unreachable, "
                        "mapping, contradiction (the lead list's CRM error code filter lists those of failed leads).")
    return sorted(set(codes))


def retry_failed(command, options):
    """With --error, only the leads failed with those codes, and only the integrations that have
    some get a retry run: a code no failed lead has retries nothing (exit 0). Each lead retried gets
    a "retried" event (by "cli", with its run) in one INSERT per integration."""
    codes = _error_codes(options.get("error_codes"))
    integrations = _integrations(options["form_ids"])
    if codes is not None:
        having = set(Lead.objects.filter(integration__in=integrations, state=Lead.State.FAILED, error_code__in=codes)
                     .values_list("integration_id", flat=True).distinct())
        integrations = [i for i in integrations if i.pk in having]
    runs, busy = [], []
    for integration in integrations:
        run = None
        try:
            run = leads_retry_failed(integration=integration, error_codes=codes, progress=command.progress)
            runs.append(run)
        except SyncBusy:
            busy.append(integration)
        sync_started(integration=integration, by=CLI, trigger=SyncRun.Trigger.RETRY, run=run, busy=run is None)
        if run is not None:
            events.record(getattr(run, "retried_lead_ids", []), LeadEvent.Kind.RETRIED, "cli", LeadEvent.Via.CLI,
                          detail={"run": run.pk})
    return _report_runs(command, runs, busy=busy, named=bool(options["form_ids"]), error_codes=codes)


def _report_runs(command, runs, *, busy=(), named=False, error_codes=None):
    """Each run's counts and failed leads, and the integrations another sync held (left to it);
    exit 1 unless every run succeeded (failed leads alone do not fail a run), or when a form named
    on the command line was held by another sync. With `error_codes` (retry-failed --error), how
    many leads were retried comes first."""
    rows = [{
        "form_id": r.integration.form.linkedin_id, "integration": r.integration_id, "run": r.pk, "trigger": r.trigger,
        "state": r.state, "window_start": r.window_start, "window_end": r.window_end, "pulled": r.pulled,
        "new": r.new, "created": r.created, "updated": r.updated, "failed": r.failed, "skipped": r.skipped,
        "error": r.error,
        "failed_leads": [{"linkedin_id": l.linkedin_id, "error": l.last_error}
                         for l in r.integration.leads.filter(state=Lead.State.FAILED).only("integration", "linkedin_id", "last_error")[:50]],
    } for r in runs]
    lines = [f"form {r['form_id']}: {r['state']}; pulled {r['pulled']} ({r['new']} new), created {r['created']}, "
             f"updated {r['updated']}, failed {r['failed']}, skipped {r['skipped']}" + (f"; error: {r['error']}" if r["error"] else "")
             for r in rows]
    held = [{"form_id": i.form.linkedin_id, "integration": i.pk} for i in busy]
    lines += [f"form {h['form_id']}: skipped, another sync of it is running (it does this one's work)" for h in held]
    extra = {}
    if error_codes is not None:
        extra = {"error_codes": error_codes, "retried": sum(r.progress_total or 0 for r in runs)}
        lines.insert(0, f"retried {extra['retried']} failed lead(s) with error {', '.join(error_codes)}")
    ok = all(r.state == SyncRun.State.SUCCEEDED for r in runs)
    if not ok:
        raise failed("; ".join(l for l in lines if "error:" in l), {"runs": rows, "busy": held, **extra})
    if held and named:
        raise failed("; ".join(lines[-len(held):]), {"runs": rows, "busy": held, **extra})
    command.emit({"ok": True, "runs": rows, "busy": held, **extra}, text="\n".join(lines))
    return True


def reconcile(command, options):
    days = options["days"]
    if not 1 <= days <= MAX_BACKFILL_DAYS:
        raise usage(f"--days must be between 1 and {MAX_BACKFILL_DAYS}, not {days}.")
    rows, lines = [], []
    for integration in _integrations(options["form_ids"]):
        result = integration_reconcile(integration=integration, days=days, by=CLI)
        rows.append({"form_id": integration.form.linkedin_id, "integration": integration.pk, **result})
        line = (f"form {integration.form.linkedin_id}: {result['state']}; LinkedIn counts {result['linkedin']}, "
                f"{result['stored_before']} stored")
        lines.append(line + (f", pulled again: {result['stored_after']} stored now" if result["repulled"] else ""))
    if any(r["state"] == "missing" for r in rows):
        raise failed("; ".join(lines), {"integrations": rows})
    command.emit({"ok": True, "integrations": rows}, text="\n".join(lines))
    return True
