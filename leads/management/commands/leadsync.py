"""`python manage.py leadsync SUBCOMMAND`: the operator CLI (the contract is in design.md).

Every subcommand takes `--json`. Exit codes: 0 success (individual lead failures are reported,
not fatal), 1 the run could not do its job, 2 bad usage. Secrets never reach the output.
"""

import json
import sys
from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from connectors.crm_connections import crm_connection_save
from connectors.discovery import discovery_run
from connectors.exceptions import ApiError, ConfigurationError, NeedsReauthorization
from connectors.tokens import linkedin_connection_save_tokens
from connectors.models import CrmConnection, LeadForm, LinkedInConnection
from leads import selectors
from leads import services as lead_services
from leads.integrations import IntegrationError, integration_enable, integration_recreate, integration_teardown
from leads.models import Lead, SyncRun
from mappings.models import Integration


class CliFailure(Exception):
    """The command could not do its job (exit 1). `data` is included in --json output."""

    def __init__(self, message, data=None):
        super().__init__(message)
        self.data = data or {}


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


SUBCOMMANDS = {
    # name: (help, issue that brings it)
    "crm add": ("create or update a CRM connection, check it, load its field catalogue", 3),
    "linkedin add": ("store a LinkedIn connection from tokens, then check it", 3),
    "linkedin heartbeat": ("verify, refresh or flag every (or one) LinkedIn connection now", 4),
    "discover": ("organizations, ad accounts, events and forms the member can read", 3),
    "enable": ("create the integration for a form, auto-map its fields, schedule it", 3),
    "sync": ("pull and push now, in this process", 3),
    "retry-failed": ("push failed leads again", 3),
    "teardown": ("stop the schedule, delete webhook subscriptions, keep (or purge) the data", 3),
    "recreate": ("rebuild a torn-down integration from its saved mapping", 3),
    "status": ("connections with token state, integrations, lead counts", 2),
    "demo": ("the offline end-to-end demonstration on the sandbox", 3),
    "signoff": ("LinkedIn's sign-off checklist, line by line, with evidence", 3),
    "report": ("lead-to-sales funnel per integration, form, event and campaign", 3),
}


class Command(BaseCommand):
    help = "LeadSync operator commands: everything the admin does, from the command line."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

        def add(name, **kwargs):
            p = sub.add_parser(name, help=SUBCOMMANDS.get(name, ("",))[0], **kwargs)
            p.add_argument("--json", action="store_true", help="print a JSON document instead of text")
            return p

        crm = sub.add_parser("crm", help="CRM connections")
        crm_sub = crm.add_subparsers(dest="crm_command", metavar="ACTION", required=True)
        p = crm_sub.add_parser("add", help=SUBCOMMANDS["crm add"][0])
        p.add_argument("name")
        p.add_argument("--account-id", required=True)
        p.add_argument("--secret-key", required=True)
        p.add_argument("--api-url", help="defaults to LEADGEN_CRM_API_URL")
        p.add_argument("--json", action="store_true", help="print a JSON document instead of text")

        li = sub.add_parser("linkedin", help="LinkedIn connections")
        li_sub = li.add_subparsers(dest="linkedin_command", metavar="ACTION", required=True)
        p = li_sub.add_parser("add", help=SUBCOMMANDS["linkedin add"][0])
        p.add_argument("name")
        p.add_argument("--access-token", required=True)
        p.add_argument("--refresh-token")
        p.add_argument("--expires-in", type=int, metavar="SECONDS")
        p.add_argument("--refresh-expires-in", type=int, metavar="SECONDS")
        p.add_argument("--json", action="store_true", help="print a JSON document instead of text")
        p = li_sub.add_parser("heartbeat", help=SUBCOMMANDS["linkedin heartbeat"][0])
        p.add_argument("name", nargs="?")
        p.add_argument("--json", action="store_true", help="print a JSON document instead of text")

        p = add("discover")
        p.add_argument("name", nargs="?", help="one LinkedIn connection (default: all)")
        p = add("enable")
        p.add_argument("form_id", metavar="FORM_ID")
        p.add_argument("--crm", required=True, metavar="NAME")
        p.add_argument("--every", type=int, metavar="MINUTES", help="schedule (default LEADSYNC_DEFAULT_SYNC_MINUTES)")
        p.add_argument("--no-create-fields", action="store_true",
                       help="do not create CRM custom fields for questions the CRM has no field for")
        p.add_argument("--include-test-leads", action="store_true", help="also push LinkedIn test leads")
        p = add("sync")
        p.add_argument("form_ids", nargs="*", metavar="FORM_ID")
        window = p.add_mutually_exclusive_group()
        window.add_argument("--days", type=int, metavar="N", help="re-pull the last N days (at most 90)")
        window.add_argument("--since", metavar="ISO8601", help="re-pull from this moment")
        p = add("retry-failed")
        p.add_argument("form_ids", nargs="*", metavar="FORM_ID")
        p = add("teardown")
        p.add_argument("form_id", metavar="FORM_ID")
        p.add_argument("--purge", action="store_true", help="also delete the stored leads and runs")
        p = add("recreate")
        p.add_argument("form_id", metavar="FORM_ID")
        add("status")
        add("demo")
        demo = sub.choices["demo"]
        demo.add_argument("--crm-account-id", default="DEMO-ACCOUNT", help="the sandbox CRM account to use")
        demo.add_argument("--crm-secret-key", default="demo-secret-key", help="its secret key")
        demo.add_argument("--days", type=int, default=90, help="how far back to sync (at most 90)")
        p = add("signoff")
        p.add_argument("--connection", metavar="NAME")
        p.add_argument("--html", metavar="FILE")
        p = add("report")
        p.add_argument("--since", metavar="ISO8601")

    def handle(self, *args, **options):
        name = options["subcommand"]
        for nested in ("crm_command", "linkedin_command"):
            if options.get(nested):
                name = f"{name} {options[nested]}"
        self.as_json = options.get("json", False)
        self.verbosity = options.get("verbosity", 1)
        handler = getattr(self, "cmd_" + name.replace(" ", "_").replace("-", "_"), None)
        try:
            if handler is None:
                issue = SUBCOMMANDS.get(name, (None, None))[1]
                raise CliFailure(
                    f"`leadsync {name}` is not available yet"
                    + (f" (it arrives with issue #{issue})." if issue else "."),
                    {"available": False},
                )
            result = handler(options)
        except (ApiError, NeedsReauthorization, ConfigurationError,
                IntegrationError, lead_services.SyncBusy) as exc:
            failure = CliFailure(str(exc))
            self.emit({"ok": False, "error": str(failure)}, text=f"Error: {failure}", stream=self.stderr)
            sys.exit(1)
        except CliFailure as failure:
            self.emit({"ok": False, "error": str(failure), **failure.data}, text=f"Error: {failure}", stream=self.stderr)
            sys.exit(1)
        return None if result is None else ""

    # -- output -------------------------------------------------------------------------------------
    def emit(self, data, *, text, stream=None):
        if self.as_json:
            self.stdout.write(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2))
        else:
            (stream or self.stdout).write(text)

    def progress(self, stage, done, total):
        if self.verbosity > 0:
            self.stderr.write(f"  {stage}: {done}" + (f"/{total}" if total is not None else ""))

    # -- subcommands --------------------------------------------------------------------------------
    def cmd_crm_add(self, options):
        connection = crm_connection_save(
            name=options["name"], account_id=options["account_id"], secret_key=options["secret_key"],
            api_url=options.get("api_url"),
        )
        fields = connection.fields.count()
        self.emit(
            {"ok": True, "name": connection.name, "api_url": connection.api_url.split("?", 1)[0],
             "account_id": connection.account_id, "status": connection.status, "fields": fields},
            text=f"CRM connection {connection.name}: credentials work, {fields} fields loaded.",
        )
        return True

    def cmd_linkedin_add(self, options):
        connection = linkedin_connection_save_tokens(
            name=options["name"], access_token=options["access_token"], refresh_token=options.get("refresh_token"),
            expires_in=options.get("expires_in"), refresh_expires_in=options.get("refresh_expires_in"),
        )
        self.emit(
            {"ok": True, "name": connection.name, "member": connection.member_name, "member_urn": connection.member_urn,
             "status": connection.status, "token": connection.token_state(), "scopes": connection.scopes,
             "access_token_expires_at": connection.access_token_expires_at,
             "refresh_token_expires_at": connection.refresh_token_expires_at},
            text=f"LinkedIn connection {connection.name}: {connection.member_name or 'member'}; token {connection.token_state()}.",
        )
        return True

    def _linkedin_connections(self, name):
        qs = LinkedInConnection.objects.order_by("name")
        if name:
            qs = qs.filter(name=name)
            if not qs.exists():
                raise CommandError(f"No LinkedIn connection named {name!r}.", returncode=2)
        elif not qs.exists():
            raise CliFailure("No LinkedIn connection yet: connect one in the admin or with `leadsync linkedin add`.")
        return list(qs)

    def cmd_linkedin_heartbeat(self, options):
        from connectors.heartbeat import connections_heartbeat

        self._linkedin_connections(options.get("name"))  # a clear error for an unknown NAME
        results = connections_heartbeat(name=options.get("name"))
        lines = []
        for r in results:
            state = "ok" if r["ok"] else "FAILED"
            lines.append(f"{r['name']}: {state}, {r['status']}, token {r['token']}" + (" (refreshed)" if r["refreshed"] else "")
                         + (f"; {r['error']}" if r["error"] else ""))
            lines += [f"  {p}" for p in r["problems"]]
        stuck = [r["name"] for r in results if r["status"] != LinkedInConnection.Status.ACTIVE]
        if stuck:
            raise CliFailure(f"needs re-authorisation: {', '.join(stuck)}. " + " ".join(lines), {"connections": results})
        self.emit({"ok": True, "connections": results}, text="\n".join(lines))
        return True

    def cmd_discover(self, options):
        results = []
        for connection in self._linkedin_connections(options.get("name")):
            self.progress(f"discovering for {connection.name}", 0, None)
            summary = discovery_run(connection=connection, progress=self.progress)
            results.append({"connection": connection.name, **summary})
        forms = (LeadForm.objects.filter(owner__connection__name__in=[r["connection"] for r in results])
                 .select_related("owner", "event").prefetch_related("versions").order_by("owner__name", "name"))
        form_rows = []
        for form in forms:
            latest = max(form.versions.all(), key=lambda v: v.version, default=None)
            definition = latest.definition if latest else {}
            form_rows.append({
                "form_id": form.linkedin_id, "name": form.name, "state": form.state, "owner": form.owner.urn,
                "owner_name": form.owner.name, "event": form.event.urn if form.event else None,
                "lead_types": form.lead_types, "version": form.current_version,
                "questions": len(definition.get("questions", [])), "hidden_fields": len(definition.get("hidden_fields", [])),
                "consents": len(definition.get("consents", [])),
            })
        lines = []
        for r in results:
            lines.append(f"{r['connection']}: {r['organizations']} organizations, {r['ad_accounts']} ad accounts, "
                         f"{r['events']} events ({r['events_with_forms']} with a lead form), {r['forms']} forms")
            lines += [f"  warning: {w}" for w in r["warnings"]]
        lines += [f"  form {f['form_id']}: {f['name']} [{f['owner_name']}] {f['questions']} questions, "
                  f"{f['hidden_fields']} hidden fields, {f['consents']} consents" + (f", event {f['event']}" if f["event"] else "")
                  for f in form_rows]
        self.emit({"ok": True, "connections": results, "forms": form_rows}, text="\n".join(lines))
        return True

    def _form(self, form_id):
        forms = list(LeadForm.objects.filter(linkedin_id=form_id).select_related("owner__connection"))
        if not forms:
            raise CommandError(f"No discovered form with id {form_id!r}: run `leadsync discover` first.", returncode=2)
        if len(forms) > 1:
            live = [f for f in forms if f.integrations.exclude(state=Integration.State.TORN_DOWN).exists()]
            forms = live or forms
        return forms[0]

    def _integrations(self, form_ids):
        qs = Integration.objects.exclude(state=Integration.State.TORN_DOWN).select_related(
            "form__owner__connection", "crm_connection")
        if form_ids:
            found = list(qs.filter(form__linkedin_id__in=form_ids))
            missing = set(form_ids) - {i.form.linkedin_id for i in found}
            if missing:
                raise CommandError(f"No integration for form(s) {', '.join(sorted(missing))}: use `leadsync enable` first.", returncode=2)
            return found
        found = list(qs.filter(state=Integration.State.ACTIVE))
        if not found:
            raise CliFailure("No active integration: enable a form with `leadsync enable FORM_ID --crm NAME`.")
        return found

    def cmd_enable(self, options):
        form = self._form(options["form_id"])
        crm = CrmConnection.objects.filter(name=options["crm"]).first()
        if crm is None:
            raise CommandError(f"No CRM connection named {options['crm']!r}: add one with `leadsync crm add`.", returncode=2)
        if options.get("every") is not None and options["every"] < 1:
            raise CommandError("--every must be at least 1 minute.", returncode=2)
        integration = integration_enable(
            form=form, crm_connection=crm, every=options.get("every"),
            include_test_leads=options.get("include_test_leads", False), create_fields=not options.get("no_create_fields"),
        )
        rows = list(integration.mappings.order_by("position"))
        mapped = [m for m in rows if m.crm_field]
        self.emit(
            {"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "crm": crm.name,
             "sync_every_minutes": integration.sync_every_minutes,
             "mappings": [{"source_kind": m.source_kind, "source_key": m.source_key, "source_label": m.source_label,
                           "crm_field": m.crm_field, "transform": m.transform} for m in rows]},
            text="\n".join([f"Integration {integration.pk}: form {form.linkedin_id} ({form}) -> {crm.name}, "
                            f"every {integration.sync_every_minutes} minutes; {len(mapped)} of {len(rows)} sources mapped:"]
                           + [f"  {m.source_label or m.source_key} -> {m.crm_field}" for m in mapped]),
        )
        return True

    def cmd_sync(self, options):
        since = None
        if options.get("since"):
            since = parse_datetime(options["since"])
            if since is None:
                raise CommandError(f"--since {options['since']!r} is not an ISO 8601 date-time.", returncode=2)
            if since.tzinfo is None:
                raise CommandError("--since needs a time zone, e.g. 2026-01-31T00:00:00Z.", returncode=2)
        trigger = SyncRun.Trigger.BACKFILL if (options.get("days") or since) else SyncRun.Trigger.MANUAL
        try:
            runs = lead_services.integrations_sync(integrations=self._integrations(options["form_ids"]), trigger=trigger,
                                                   days=options.get("days"), since=since, progress=self.progress)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2)
        return self._report_runs(runs)

    def cmd_retry_failed(self, options):
        runs = [lead_services.leads_retry_failed(integration=i, progress=self.progress)
                for i in self._integrations(options["form_ids"])]
        return self._report_runs(runs)

    def cmd_demo(self, options):
        from leads.ops.demo import DemoError, demo_run

        try:
            summary = demo_run(crm_account_id=options["crm_account_id"], crm_secret_key=options["crm_secret_key"],
                               days=options["days"], progress=self.progress)
        except DemoError as exc:
            raise CliFailure(str(exc))
        t = summary["totals"]
        d = summary["discovered"]
        lines = [
            f"CRM: {summary['crm']['name']} ({summary['crm']['fields']} fields)",
            f"LinkedIn: {summary['linkedin']['name']} as {summary['linkedin']['member']} (token {summary['linkedin']['token']})",
            f"Discovered: {d['organizations']} organizations, {d['ad_accounts']} ad accounts, {d['events']} events "
            f"({d['events_with_forms']} with a lead form), {d['forms']} forms",
        ]
        lines += [f"  {i['form']} (form {i['form_id']}): {i['state']}, pulled {i['pulled']}, created {i['created']}, "
                  f"updated {i['updated']}, failed {i['failed']}, skipped {i['skipped']}" + (f", error: {i['error']}" if i["error"] else "")
                  for i in summary["integrations"]]
        lines.append(f"Leads pulled: {t['pulled']} ({t['new']} new); created in the CRM: {t['created']}; "
                     f"updated: {t['updated']}; failed: {t['failed']}; skipped (test leads): {t['skipped']}")
        ok = all(i["state"] == SyncRun.State.SUCCEEDED for i in summary["integrations"])
        if not ok:
            raise CliFailure("the demo sync failed: " + "; ".join(i["error"] for i in summary["integrations"] if i["error"]), summary)
        self.emit({"ok": True, **summary}, text="\n".join(lines))
        return True

    def cmd_teardown(self, options):
        form = self._form(options["form_id"])
        integration = (Integration.objects.filter(form=form).exclude(state=Integration.State.TORN_DOWN).first()
                       or Integration.objects.filter(form=form).order_by("-torn_down_at", "-pk").first())
        if integration is None:
            raise CommandError(f"Form {form.linkedin_id} has no integration to tear down.", returncode=2)
        result = integration_teardown(integration=integration, purge=options["purge"])
        text = f"Integration of form {form.linkedin_id} ({form}) torn down: schedule removed"
        text += ", lead notifications unsubscribed" if not result["warnings"] else ""
        if result["purged"]:
            text += f"; purged {result['purged']['leads']} leads and {result['purged']['runs']} runs"
        else:
            text += f"; {integration.leads.count()} stored leads kept"
        text += "".join(f"\nwarning: {w}" for w in result["warnings"])
        self.emit({"ok": True, **result}, text=text + ". `leadsync recreate` brings it back.")
        return True

    def cmd_recreate(self, options):
        form = self._form(options["form_id"])
        result = integration_recreate(form=form)
        text = (f"Integration of form {form.linkedin_id} ({form}) recreated from its saved mapping "
                f"({result['mappings_added']} new sources mapped), {result['leads_kept']} stored leads kept; "
                f"the next sync resumes from {result['watermark'] or 'the start'}.")
        text += "".join(f"\nwarning: {w}" for w in result["warnings"])
        self.emit({"ok": True, **result}, text=text)
        return True

    def cmd_signoff(self, options):
        from leads.ops.signoff.checks import cli_signoff

        return cli_signoff(self, options)

    def cmd_report(self, options):
        from leads.ops.report import cli_report

        cli_report(self, options)
        return True

    def _report_runs(self, runs):
        rows = [{
            "form_id": r.integration.form.linkedin_id, "integration": r.integration_id, "run": r.pk, "trigger": r.trigger,
            "state": r.state, "window_start": r.window_start, "window_end": r.window_end, "pulled": r.pulled,
            "new": r.new, "created": r.created, "updated": r.updated, "failed": r.failed, "skipped": r.skipped,
            "error": r.error,
            "failed_leads": [{"linkedin_id": l.linkedin_id, "error": l.last_error}
                             for l in r.integration.leads.filter(state=Lead.State.FAILED).only("linkedin_id", "last_error")[:50]],
        } for r in runs]
        lines = [f"form {r['form_id']}: {r['state']}; pulled {r['pulled']} ({r['new']} new), created {r['created']}, "
                 f"updated {r['updated']}, failed {r['failed']}, skipped {r['skipped']}" + (f"; error: {r['error']}" if r["error"] else "")
                 for r in rows]
        ok = all(r.state == SyncRun.State.SUCCEEDED for r in runs)
        if not ok:
            raise CliFailure("; ".join(l for l in lines if "error:" in l), {"runs": rows})
        self.emit({"ok": True, "runs": rows}, text="\n".join(lines))
        return True

    def cmd_status(self, options):
        data = selectors.status_overview()
        lines = ["LinkedIn connections:"]
        lines += [
            f"  {c['name']}: {c['status']}, {c['token']}" + (f" ({c['member']})" if c["member"] else "")
            for c in data["linkedin_connections"]
        ] or ["  (none)"]
        lines.append("CRM connections:")
        lines += [
            f"  {c['name']}: {c['status']}, account {c['account_id']} at {c['api_url']}, {c['fields']} fields"
            for c in data["crm_connections"]
        ] or ["  (none)"]
        lines.append("Integrations:")
        lines += [
            f"  form {i['form_id']} ({i['name']}) -> {i['crm']}: {i['state']}, every {i['sync_every_minutes']} min; "
            f"leads synced {i['leads']['synced']}, failed {i['leads']['failed']}, pending {i['leads']['pending']}"
            for i in data["integrations"]
        ] or ["  (none)"]
        t = data["leads"]
        lines.append(f"Leads: {t['synced']} synced, {t['failed']} failed, {t['pending']} pending, {t['deleted']} deleted")
        self.emit({"ok": True, **data}, text="\n".join(lines))
        return True
