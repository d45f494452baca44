"""`leadsync audit FORM_ID`: the integration's audit trail (who enabled, edited, paused, tore down or
synced it by hand, from the admin or the command line), newest first, as its admin page shows it."""

from leads.cli.base import subcommand, usage
from leads.cli.integrations import form_named, integration_of
from mappings.models import IntegrationEvent

DEFAULT_LIMIT, MAX_LIMIT = 50, 10000


def register(subparsers):
    p = subcommand(subparsers, "audit", audit, help="an integration's audit trail, newest first")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                   help=f"the newest N events (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})")
    p.add_argument("--kind", choices=IntegrationEvent.Kind.values, help="only events of this kind")


def audit(command, options):
    limit = options["limit"]
    if not 1 <= limit <= MAX_LIMIT:
        raise usage(f"--limit must be between 1 and {MAX_LIMIT}, not {limit}.")
    form = form_named(options["form_id"])
    integration = integration_of(form)
    events = IntegrationEvent.objects.filter(integration_id=integration.pk).order_by("-at", "-pk")
    if options.get("kind"):
        events = events.filter(kind=options["kind"])
    events = list(events[:limit])
    command.emit(
        {"ok": True, "integration": integration.pk, "form_id": form.linkedin_id,
         "events": [{"at": e.at, "kind": e.kind, "actor": e.actor, "via": e.via, "summary": e.summary,
                     "detail": e.detail} for e in events]},
        text="\n".join([f"Audit trail of the integration of form {form.linkedin_id} ({form}), newest first:"]
                       + [f"  {e.at:%Y-%m-%d %H:%M:%S} {e.get_kind_display()} by {e.actor} ({e.get_via_display()}): "
                          f"{e.summary}" for e in events])
        if events else f"Nothing recorded yet for the integration of form {form.linkedin_id} ({form}).",
    )
    return True
