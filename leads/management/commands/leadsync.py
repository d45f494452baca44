"""`python manage.py leadsync SUBCOMMAND`: the operator CLI (the contract is in design.md).

Every subcommand takes `--json`. Exit codes: 0 success (individual lead failures are reported,
not fatal), 1 the run could not do its job, 2 bad usage. Secrets never reach the output.
"""

import json
import sys
from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError

from leads import selectors


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
    "retry-failed": ("push failed leads again", None),
    "teardown": ("stop the schedule, delete webhook subscriptions, keep (or purge) the data", None),
    "recreate": ("rebuild a torn-down integration from its saved mapping", None),
    "status": ("connections with token state, integrations, lead counts", 2),
    "demo": ("the offline end-to-end demonstration on the sandbox", 3),
    "signoff": ("LinkedIn's sign-off checklist, line by line, with evidence", None),
    "report": ("lead-to-sales funnel per integration, form, event and campaign", None),
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
        p.add_argument("--every", type=int, metavar="MINUTES")
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

    # -- subcommands --------------------------------------------------------------------------------
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
