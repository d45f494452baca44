"""`leadsync enable`, `configure`, `pause`, `resume`, `teardown` and `recreate`: an integration's life, form by
form; and the lookups (a form, its integration, a mapping document) its subcommands and the
`mapping` group share."""

import json
import sys

from connectors.models import CrmConnection, LeadForm
from leads.cli.base import subcommand, usage
from leads.integrations import (
    MAX_SYNC_MINUTES,
    integration_configure,
    integration_enable,
    integration_pause,
    integration_recreate,
    integration_resume,
    integration_teardown,
)
from mappings.audit import CLI
from mappings.models import Integration


ON_DELETE = dict(
    choices=Integration.OnLinkedInDelete.values, dest="on_delete",
    help="when LinkedIn deletes a lead: local = erase it in LeadSync only, crm = erase it and delete it in the CRM "
         "(default for a new integration: crm if LEADSYNC_DELETE_CRM_LEADS is set, else local)",
)


def register(subparsers):
    p = subcommand(subparsers, "enable", enable,
                   help="create the integration for a form, auto-map its fields, schedule it")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("--crm", required=True, metavar="NAME")
    p.add_argument("--every", type=int, metavar="MINUTES", help="schedule (default LEADSYNC_DEFAULT_SYNC_MINUTES)")
    fields = p.add_mutually_exclusive_group()
    fields.add_argument("--no-create-fields", action="store_true",
                        help="do not create CRM custom fields for questions the CRM has no field for")
    fields.add_argument("--create-field", action="append", metavar="KIND:KEY", dest="create_field",
                        help="create a CRM field only for this source (e.g. question:12, hidden:utm_source, "
                             "consent:3; repeatable); default: for every source the CRM has no field for")
    p.add_argument("--lead-type", action="append", metavar="TYPE", dest="lead_type",
                   choices=[t.value for t in LeadForm.LeadType],
                   help="pull only this lead type (repeatable); default: every type the form receives")
    p.add_argument("--include-test-leads", action="store_true", help="also push LinkedIn test leads")
    p.add_argument("--on-delete", **ON_DELETE)

    p = subcommand(subparsers, "configure", configure,
                   help="show an integration's settings, or change them (--on-delete)")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("--on-delete", **ON_DELETE)

    for name, handler, what in (("pause", pause, "stop an integration's schedule without tearing it down"),
                                ("resume", resume, "restart a paused integration's schedule")):
        p = subcommand(subparsers, name, handler, help=what)
        p.add_argument("form_id", metavar="FORM_ID")

    p = subcommand(subparsers, "teardown", teardown,
                   help="stop the schedule, delete webhook subscriptions, keep (or purge) the data")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("--purge", action="store_true", help="also delete the stored leads and runs")

    p = subcommand(subparsers, "recreate", recreate, help="rebuild a torn-down integration from its saved mapping")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("--mapping", metavar="FILE",
                   help="first import this mapping document (from `leadsync mapping export`; - reads stdin)")


def form_named(form_id):
    """The discovered form with this LinkedIn id. The same form can be discovered through two
    connections: the one with a live integration wins."""
    forms = list(LeadForm.objects.filter(linkedin_id=form_id).select_related("owner__connection"))
    if not forms:
        raise usage(f"No discovered form with id {form_id!r}: run `leadsync discover` first.")
    if len(forms) > 1:
        live = [f for f in forms if f.integrations.exclude(state=Integration.State.TORN_DOWN).exists()]
        forms = live or forms
    return forms[0]


def integration_of(form):
    """The form's live integration, else its most recently torn-down one; none is bad usage."""
    integrations = Integration.objects.filter(form=form).select_related("form__owner__connection", "crm_connection")
    integration = (integrations.exclude(state=Integration.State.TORN_DOWN).first()
                   or integrations.order_by("-torn_down_at", "-pk").first())
    if integration is None:
        raise usage(f"Form {form.linkedin_id} has no integration: enable it with `leadsync enable`.")
    return integration


def read_mapping_document(path):
    """The JSON document in the file at `path` (- for stdin); a file that cannot be read, or is not
    JSON, is bad usage. Whether it is a sound mapping is mapping_import's to say."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise usage(f"Cannot read the mapping file {path}: {getattr(exc, 'strerror', None) or exc}.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise usage(f"The mapping file {path} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")


def enable(command, options):
    form = form_named(options["form_id"])
    crm = CrmConnection.objects.filter(name=options["crm"]).first()
    if crm is None:
        raise usage(f"No CRM connection named {options['crm']!r}: add one with `leadsync crm add`.")
    every = options.get("every")
    if every is not None and not 1 <= every <= MAX_SYNC_MINUTES:
        raise usage(f"--every must be between 1 and {MAX_SYNC_MINUTES} minutes (a week), not {every}.")
    sources = None
    if options.get("create_field"):
        sources = {tuple(value.split(":", 1)) for value in options["create_field"]}
        wrong = sorted(":".join(source) for source in sources
                       if len(source) != 2 or source[0] not in ("question", "hidden", "consent"))
        if wrong:
            raise usage(f"--create-field takes KIND:KEY with KIND question, hidden or consent; not {', '.join(wrong)}.")
    integration = integration_enable(
        form=form, crm_connection=crm, every=every, lead_types=options.get("lead_type"),
        include_test_leads=options.get("include_test_leads", False), create_fields=not options.get("no_create_fields"),
        field_sources=sources, on_linkedin_delete=options.get("on_delete"), by=CLI,
    )
    rows = list(integration.mappings.order_by("position"))
    mapped = [m for m in rows if m.crm_field]
    command.emit(
        {"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "crm": crm.name,
         "sync_every_minutes": integration.sync_every_minutes, "on_linkedin_delete": integration.on_linkedin_delete,
         "mappings": [{"source_kind": m.source_kind, "source_key": m.source_key, "source_label": m.source_label,
                       "crm_field": m.crm_field, "transform": m.transform, "transform_option": m.transform_option}
                      for m in rows]},
        text="\n".join([f"Integration {integration.pk}: form {form.linkedin_id} ({form}) -> {crm.name}, "
                        f"every {integration.sync_every_minutes} minutes; when LinkedIn deletes a lead: "
                        f"{_on_delete_text(integration)}; {len(mapped)} of {len(rows)} sources mapped:"]
                       + [f"  {m.source_label or m.source_key} -> {m.crm_field}" for m in mapped]),
    )
    return True


def _on_delete_text(integration) -> str:
    return ("erase it here and delete it in the CRM" if integration.on_linkedin_delete == Integration.OnLinkedInDelete.CRM
            else "erase it here only")


def configure(command, options):
    """Without an option, what the integration is set to; with one, that changed."""
    form = form_named(options["form_id"])
    integration = integration_of(form)
    changing = options.get("on_delete") is not None
    if changing:
        integration = integration_configure(integration=integration, on_linkedin_delete=options["on_delete"], by=CLI)
    command.emit(
        {"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "state": integration.state,
         "changed": changing, "sync_every_minutes": integration.sync_every_minutes,
         "on_linkedin_delete": integration.on_linkedin_delete},
        text=f"Integration of form {form.linkedin_id} ({form}){' now' if changing else ''}: "
             f"{integration.get_state_display().lower()}, every {integration.sync_every_minutes} minutes; "
             f"when LinkedIn deletes a lead: {_on_delete_text(integration)}.")
    return True


def _set_state(command, options, change, done):
    form = form_named(options["form_id"])
    integration = change(integration=integration_of(form), by=CLI)
    command.emit({"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "state": integration.state},
                 text=f"Integration of form {form.linkedin_id} ({form}) {done}.")
    return True


def pause(command, options):
    return _set_state(command, options, integration_pause,
                      f"paused: no scheduled pull runs until `leadsync resume {options['form_id']}`")


def resume(command, options):
    return _set_state(command, options, integration_resume,
                      "resumed: its next scheduled pull starts from its watermark")


def teardown(command, options):
    form = form_named(options["form_id"])
    integration = integration_of(form)
    result = integration_teardown(integration=integration, purge=options["purge"], by=CLI)
    if result["already"]:
        when = f" on {result['torn_down_at']:%Y-%m-%d %H:%M} UTC" if result["torn_down_at"] else ""
        command.emit({"ok": True, **result},
                     text=f"Integration of form {form.linkedin_id} ({form}) was already torn down{when}: nothing is "
                          "left to do. `leadsync recreate` brings it back.")
        return True
    text = f"Integration of form {form.linkedin_id} ({form}) torn down: schedule removed"
    text += ", the sync that was running stopped" if result["stopped_sync"] else ""
    text += ", lead notifications unsubscribed" if not result["warnings"] else ""
    if result["purged"]:
        text += f"; purged {result['purged']['leads']} leads and {result['purged']['runs']} runs"
    else:
        text += f"; {integration.leads.count()} stored leads kept"
    text += "".join(f"\nwarning: {w}" for w in result["warnings"])
    command.emit({"ok": True, **result}, text=text + ". `leadsync recreate` brings it back.")
    return True


def recreate(command, options):
    form = form_named(options["form_id"])
    mapping = read_mapping_document(options["mapping"]) if options.get("mapping") else None
    result = integration_recreate(form=form, mapping=mapping, by=CLI)
    imported = result["mapping_imported"]
    text = (f"Integration of form {form.linkedin_id} ({form}) recreated from "
            + (f"the mapping in {options['mapping']} ({imported['updated']} rows changed, {imported['created']} "
               f"added) " if imported else "its saved mapping ")
            + f"({result['mappings_added']} new sources mapped), {result['leads_kept']} stored leads kept; "
            f"the next sync resumes from {result['watermark'] or 'the start'}.")
    text += "".join(f"\nwarning: {w}" for w in result["warnings"])
    command.emit({"ok": True, **result}, text=text)
    return True
