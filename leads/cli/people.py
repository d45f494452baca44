"""`leadsync person export EMAIL` and `person erase EMAIL [--crm]`: one person's data, out or gone;
each recorded as a person data request made from the command line ("cli")."""

import json

from leads.cli.base import json_default, subcommand, usage
from leads.models import PersonRequest
from leads.people import person_erase, person_export

CLI = {"via": PersonRequest.Via.CLI, "requested_by": "cli"}


def register(subparsers):
    person = subparsers.add_parser("person", help="everything stored about one person")
    actions = person.add_subparsers(dest="person_command", metavar="ACTION", required=True)
    p = subcommand(actions, "export", export, help="everything LeadSync holds about this e-mail address, as JSON")
    p.add_argument("email", metavar="EMAIL")
    p = subcommand(actions, "erase", erase, help="erase this person's data (and their CRM records with --crm)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--crm", action="store_true", help="also delete their leads in the CRM")


def _email(options):
    email = options["email"].strip()
    if "@" not in email:
        raise usage(f"{options['email']!r} is not an e-mail address.")
    return email


def export(command, options):
    """The document on stdout (it is JSON, with --json or without)."""
    data = {"ok": True, **person_export(email=_email(options), **CLI)}
    command.emit(data, text=json.dumps(data, default=json_default, ensure_ascii=False, indent=2))
    return True


def erase(command, options):
    result = person_erase(email=_email(options), crm=options["crm"], **CLI)
    text = (f"Erased {result['leads_erased']} lead(s)" + (" and their CRM records" if options["crm"] else "")
            + (": " + ", ".join(result["linkedin_ids"]) if result["linkedin_ids"] else ": none was stored")
            + "".join(f"\nnote: {n}" for n in result["notes"]))
    command.emit({"ok": True, **result}, text=text)
    return True
