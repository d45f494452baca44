"""`leadsync ignore LINKEDIN_ID ... --reason TEXT` and `unignore LINKEDIN_ID ...`: set failed or
pending leads aside, and take them back (failed again, to be retried); the twins of the lead
list's "Ignore selected leads…" and "Un-ignore" actions, recorded as done by "cli"."""

from leads.cli.base import failed, subcommand, usage
from leads.models import Lead
from leads.review import leads_ignore, leads_unignore

BY = "cli"


def register(subparsers):
    p = subcommand(subparsers, "ignore", ignore, help="set failed or pending leads aside: never pushed or retried")
    p.add_argument("linkedin_ids", nargs="+", metavar="LINKEDIN_ID", help="the leads' LinkedIn response ids")
    p.add_argument("--reason", required=True, help="why (kept on each lead, with who and when)")
    p = subcommand(subparsers, "unignore", unignore, help="take ignored leads back: failed again, to be retried")
    p.add_argument("linkedin_ids", nargs="+", metavar="LINKEDIN_ID", help="the leads' LinkedIn response ids")


def _leads(options):
    """The named leads; an id LeadSync does not hold is bad usage, and nothing is changed."""
    ids = list(dict.fromkeys(i.strip() for i in options["linkedin_ids"]))
    leads = Lead.objects.filter(linkedin_id__in=ids)
    unknown = set(ids) - set(leads.values_list("linkedin_id", flat=True))
    if unknown:
        raise usage(f"No stored lead with LinkedIn response id {', '.join(sorted(unknown))}: nothing was changed.")
    return leads


def _finish(command, result, *, verb, why):
    data = {verb: sorted(result.done), "left": dict(sorted(result.left.items())), "busy": sorted(result.busy)}
    done = ": " + ", ".join(sorted(result.done)) if result.done else "."
    lines = [f"{verb.capitalize()} {len(result.done)} lead(s){done}"]
    lines += [f"left alone: {linkedin_id} is {state} ({why})" for linkedin_id, state in sorted(result.left.items())]
    lines += [f"left alone: {linkedin_id} is pending and a sync of its integration is pushing it; try again once "
              "it ends" for linkedin_id in sorted(result.busy)]
    if not result.done:
        raise failed("; ".join(lines[1:]) or f"No lead was {verb}.", data)
    command.emit({"ok": True, **data}, text="\n".join(lines))
    return True


def ignore(command, options):
    """Exit 0 when at least one lead was ignored (the others are listed); 1 when none could be;
    2 for an empty reason or an unknown id (nothing changed)."""
    if not options["reason"].strip():
        raise usage("--reason must say why the leads are ignored.")
    result = leads_ignore(leads=_leads(options), reason=options["reason"], by=BY)
    return _finish(command, result, verb="ignored", why="only failed or pending leads can be ignored")


def unignore(command, options):
    result = leads_unignore(leads=_leads(options), by=BY)
    return _finish(command, result, verb="unignored", why="only ignored leads can be un-ignored")
