"""`leadsync status`, `demo`, `signoff` and `report`: what an operator looks at, and the tools of
leads/ops behind them."""

from pathlib import Path

from connectors.models import LinkedInConnection
from leads import selectors
from leads.cli.base import failed, parse_since, subcommand, usage
from leads.cli.connections import linkedin_connection_named
from leads.models import SyncRun
from leads.ops.demo import demo_run
from leads.ops.report import funnel_report, funnel_report_text
from leads.ops.signoff.checks import signoff_report
from leads.ops.signoff.render import signoff_html, signoff_text


def register(subparsers):
    subcommand(subparsers, "status", status, help="connections with token state, integrations, lead counts")

    p = subcommand(subparsers, "demo", demo, help="the offline end-to-end demonstration on the sandbox")
    p.add_argument("--crm-account-id", default="DEMO-ACCOUNT", help="the sandbox CRM account to use")
    p.add_argument("--crm-secret-key", default="demo-secret-key", help="its secret key")
    p.add_argument("--days", type=int, default=90, help="how far back to sync (at most 90)")

    p = subcommand(subparsers, "signoff", signoff, help="LinkedIn's sign-off checklist, line by line, with evidence")
    p.add_argument("--connection", metavar="NAME")
    p.add_argument("--html", metavar="FILE")

    p = subcommand(subparsers, "report", report, help="lead-to-sales funnel per integration, form, event and campaign")
    p.add_argument("--since", metavar="ISO8601")


def status(command, options):
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
        f"leads synced {i['leads']['synced']}, failed {i['leads']['failed']}, pending {i['leads']['pending']}, "
        f"ignored {i['leads']['ignored']}"
        for i in data["integrations"]
    ] or ["  (none)"]
    t = data["leads"]
    lines.append(f"Leads: {t['synced']} synced, {t['failed']} failed, {t['pending']} pending, {t['ignored']} ignored, "
                 f"{t['deleted']} deleted")
    command.emit({"ok": True, **data}, text="\n".join(lines))
    return True


def demo(command, options):
    summary = demo_run(crm_account_id=options["crm_account_id"], crm_secret_key=options["crm_secret_key"],
                       days=options["days"], progress=command.progress)
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
    if not all(i["state"] == SyncRun.State.SUCCEEDED for i in summary["integrations"]):
        raise failed("the demo sync failed: " + "; ".join(i["error"] for i in summary["integrations"] if i["error"]), summary)
    command.emit({"ok": True, **summary}, text="\n".join(lines))
    return True


def _html_path(value):
    """Where --html writes the page, checked before the report is made so that bad usage writes nothing."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise usage(f"--html {value!r} is a directory; give a file name.")
    if not path.parent.is_dir():
        raise usage(f"--html {value!r}: directory {str(path.parent)!r} does not exist.")
    return path


def signoff(command, options):
    """Bad usage (an unknown connection, an --html path that cannot be written) exits 2; a report
    full of "fail" lines still exits 0: a fail is a finding, not an error."""
    connection = None
    if options.get("connection"):
        # The report promises that token columns are never loaded.
        connection = linkedin_connection_named(
            options["connection"], queryset=LinkedInConnection.objects.defer("access_token", "refresh_token"))
    html_path = _html_path(options["html"]) if options.get("html") else None
    result = signoff_report(connection=connection)
    text = signoff_text(result)
    if html_path is not None:
        try:
            html_path.write_text(signoff_html(result), encoding="utf-8")
        except OSError as exc:
            raise usage(f"--html {options['html']!r} could not be written: {exc.strerror or exc}.")
        result["html"] = str(html_path.resolve())
        text += f"\n\nHTML report written to {result['html']}"
    command.emit(result, text=text)
    return True


def report(command, options):
    """A CRM that cannot be read ends the run (exit 1, through ReportError) before anything is
    printed: no report is better than one whose sales half is missing."""
    result = funnel_report(since=parse_since(options.get("since")), progress=command.progress)
    command.emit({"ok": True, **result}, text=funnel_report_text(result))
    return True
