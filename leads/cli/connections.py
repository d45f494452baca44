"""`leadsync crm add`, `linkedin add`, `linkedin heartbeat` and `discover`: the accounts LeadSync
works with, and what a LinkedIn member can sync."""

from connectors.clients import crm_limits, crm_limits_clear
from connectors.crm_connections import crm_connection_save
from connectors.discovery import discovery_run
from connectors.heartbeat import connections_heartbeat
from connectors.keys import secrets_reencrypt
from connectors.linkedin.forms import form_fields
from connectors.models import CrmConnection, LeadForm, LinkedInConnection
from connectors.tokens import linkedin_connection_save_tokens
from leads.cli.base import failed, subcommand, usage


def register(subparsers):
    crm = subparsers.add_parser("crm", help="CRM connections")
    actions = crm.add_subparsers(dest="crm_command", metavar="ACTION", required=True)
    p = subcommand(actions, "add", crm_add,
                   help="create or update a CRM connection, check it, load its field catalogue")
    p.add_argument("name")
    p.add_argument("--account-id", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--api-url", help="defaults to LEADGEN_CRM_API_URL")
    p = subcommand(actions, "limits", crm_limits_show,
                   help="the calls each CRM account made this second and today, and any pause, as every worker "
                        "shares them in Redis")
    p.add_argument("name", nargs="?", help="one CRM connection (default: all)")
    p.add_argument("--clear", action="store_true",
                   help="lift the named connection's pause after a daily limit (106), its block and today's count")

    linkedin = subparsers.add_parser("linkedin", help="LinkedIn connections")
    actions = linkedin.add_subparsers(dest="linkedin_command", metavar="ACTION", required=True)
    p = subcommand(actions, "add", linkedin_add, help="store a LinkedIn connection from tokens, then check it")
    p.add_argument("name")
    p.add_argument("--access-token", required=True)
    p.add_argument("--refresh-token")
    p.add_argument("--expires-in", type=int, metavar="SECONDS")
    p.add_argument("--refresh-expires-in", type=int, metavar="SECONDS")
    p = subcommand(actions, "heartbeat", linkedin_heartbeat,
                   help="verify, refresh or flag every (or one) LinkedIn connection now")
    p.add_argument("name", nargs="?")

    p = subcommand(subparsers, "discover", discover,
                   help="organizations, ad accounts, events and forms the member can read")
    p.add_argument("name", nargs="?", help="one LinkedIn connection (default: all)")

    keys = subparsers.add_parser("keys", help="the keys of the secrets at rest")
    keys_actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    subcommand(keys_actions, "rotate", keys_rotate,
               help="re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEY")


def linkedin_connection_named(name, *, queryset=None) -> LinkedInConnection:
    """The LinkedIn connection an operator named; an unknown name is bad usage (exit 2)."""
    connection = (queryset if queryset is not None else LinkedInConnection.objects).filter(name=name).first()
    if connection is None:
        raise usage(f"No LinkedIn connection named {name!r}.")
    return connection


def _linkedin_connections(name):
    if name:
        return [linkedin_connection_named(name)]
    connections = list(LinkedInConnection.objects.order_by("name"))
    if not connections:
        raise failed("No LinkedIn connection yet: connect one in the admin or with `leadsync linkedin add`.")
    return connections


def crm_add(command, options):
    connection = crm_connection_save(
        name=options["name"], account_id=options["account_id"], secret_key=options["secret_key"],
        api_url=options.get("api_url"),
    )
    fields = connection.fields.count()
    command.emit(
        {"ok": True, "name": connection.name, "api_url": connection.api_url.split("?", 1)[0],
         "account_id": connection.account_id, "status": connection.status, "fields": fields},
        text=f"CRM connection {connection.name}: credentials work, {fields} fields loaded.",
    )
    return True


def crm_limits_show(command, options):
    name = options.get("name")
    if options.get("clear") and not name:
        raise usage("--clear needs the name of one CRM connection.")
    if name:
        connections = list(CrmConnection.objects.filter(name=name))
        if not connections:
            raise usage(f"No CRM connection named {name!r}.")
    else:
        connections = list(CrmConnection.objects.order_by("name"))
    if options.get("clear") and not crm_limits_clear(connections[0]):
        raise failed("The limits are kept per process (LEADSYNC_RATE_LIMIT_REDIS_URL is off): nothing to clear.")
    rows = [{"name": c.name, "limits": crm_limits(c)} for c in connections]
    if not rows:
        text = "No CRM connection yet."
    elif rows[0]["limits"] is None:
        text = "The limits are kept per process (LEADSYNC_RATE_LIMIT_REDIS_URL is off): nothing is shared to show."
    else:
        lines = []
        for row in rows:
            limits = row["limits"]
            line = f"{row['name']}: {limits['calls_last_window']} calls this second, {limits['calls_today']} today"
            if limits["paused_for"]:
                line += f"; paused after a daily limit for {limits['paused_for'] / 60:.0f} more minutes"
            if limits["blocked_for"]:
                line += f"; held back for {limits['blocked_for']:.1f} s"
            lines.append(line)
        text = "\n".join(([f"Cleared the limits of {name}."] if options.get("clear") else []) + lines)
    for row in rows:
        row["shared"] = row["limits"] is not None
        row.update(row.pop("limits") or {})
    command.emit({"ok": True, "cleared": bool(options.get("clear")), "connections": rows}, text=text)
    return True


def linkedin_add(command, options):
    for option in ("expires_in", "refresh_expires_in"):
        if options.get(option) is not None and options[option] < 1:
            raise usage(f"--{option.replace('_', '-')} is a lifetime in seconds from now: it must be at least 1, "
                        f"not {options[option]}.")
    connection = linkedin_connection_save_tokens(
        name=options["name"], access_token=options["access_token"], refresh_token=options.get("refresh_token"),
        expires_in=options.get("expires_in"), refresh_expires_in=options.get("refresh_expires_in"),
    )
    command.emit(
        {"ok": True, "name": connection.name, "member": connection.member_name, "member_urn": connection.member_urn,
         "status": connection.status, "token": connection.token_state(), "scopes": connection.scopes,
         "access_token_expires_at": connection.access_token_expires_at,
         "refresh_token_expires_at": connection.refresh_token_expires_at},
        text=f"LinkedIn connection {connection.name}: {connection.member_name or 'member'}; token {connection.token_state()}.",
    )
    return True


def linkedin_heartbeat(command, options):
    _linkedin_connections(options.get("name"))  # a clear error for an unknown NAME
    results = connections_heartbeat(name=options.get("name"))
    lines = []
    for r in results:
        state = "ok" if r["ok"] else "FAILED"
        lines.append(f"{r['name']}: {state}, {r['status']}, token {r['token']}" + (" (refreshed)" if r["refreshed"] else "")
                     + (f"; {r['error']}" if r["error"] else ""))
        lines += [f"  {p}" for p in r["problems"]]
    stuck = [r["name"] for r in results if r["status"] != LinkedInConnection.Status.ACTIVE]
    if stuck:
        raise failed(f"needs re-authorisation: {', '.join(stuck)}. " + " ".join(lines), {"connections": results})
    command.emit({"ok": True, "connections": results}, text="\n".join(lines))
    return True


def discover(command, options):
    results = []
    for connection in _linkedin_connections(options.get("name")):
        command.progress(f"discovering for {connection.name}", 0, None)
        summary = discovery_run(connection=connection, progress=command.progress)
        results.append({"connection": connection.name, **summary})
    forms = (LeadForm.objects.filter(owner__connection__name__in=[r["connection"] for r in results])
             .select_related("owner", "event").prefetch_related("versions").order_by("owner__name", "name"))
    form_rows = []
    for form in forms:
        latest = max(form.versions.all(), key=lambda v: v.version, default=None)
        form_rows.append({
            "form_id": form.linkedin_id, "name": form.name, "state": form.state, "owner": form.owner.urn,
            "owner_name": form.owner.name, "event": form.event.urn if form.event else None,
            "lead_types": form.lead_types, "version": form.current_version,
            "gone_at": form.gone_at,
            # Every question (name, label, kind, options), hidden field (name, value) and consent (id, text).
            **form_fields(latest.definition if latest else {}),
        })
    lines = []
    for r in results:
        lines.append(f"{r['connection']}: {r['organizations']} organizations, {r['ad_accounts']} ad accounts, "
                     f"{r['events']} events ({r['events_with_forms']} with a lead form), {r['forms']} forms")
        lines += [f"  warning: {w}" for w in r["warnings"]]
    lines += [f"  form {f['form_id']}: {f['name']} [{f['owner_name']}] {len(f['questions'])} questions, "
              f"{len(f['hidden_fields'])} hidden fields, {len(f['consents'])} consents"
              + (f", event {f['event']}" if f["event"] else "") + (", gone from LinkedIn" if f["gone_at"] else "")
              for f in form_rows]
    command.emit({"ok": True, "connections": results, "forms": form_rows}, text="\n".join(lines))
    return True


def keys_rotate(command, options):
    counts = secrets_reencrypt()
    command.emit({"ok": True, "reencrypted": counts},
                 text="Re-encrypted under the first key of FIELD_ENCRYPTION_KEY: "
                      + ", ".join(f"{n} {name}" for name, n in counts.items())
                      + ". The other keys can now be removed from it.")
    return True
