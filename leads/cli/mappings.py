"""`leadsync mapping export`, `mapping import` and `mapping reviewed`: an integration's mapping as a
JSON document and back (checked like the admin's editor checks it), and the "mapping needs review"
flag a new form version raises, cleared."""

import json

from leads.cli.base import subcommand, usage
from leads.cli.integrations import form_named, integration_of, read_mapping_document
from mappings.audit import CLI
from mappings.services import (
    integration_mapping_reviewed,
    mapping_export,
    mapping_fields_create,
    mapping_fields_suggested,
    mapping_import,
)


def register(subparsers):
    mapping = subparsers.add_parser("mapping", help="an integration's field mapping")
    actions = mapping.add_subparsers(dest="mapping_command", metavar="ACTION", required=True)
    p = subcommand(actions, "export", export, help="the mapping as a JSON document (stdout, or --file)")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("--file", metavar="F", help="write the document to this file instead of stdout")
    p = subcommand(actions, "import", import_,
                   help="make the mapping what a JSON document says (checked; refused as a whole, or done)")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("file", metavar="FILE", help="a document from `mapping export` (- reads stdin)")
    p = subcommand(actions, "reviewed", reviewed,
                   help="clear the \"mapping needs review\" flag a new form version raised")
    p.add_argument("form_id", metavar="FORM_ID")
    p = subcommand(actions, "create-fields", create_fields,
                   help="create CRM custom fields for unmapped sources and map them (without SOURCE: list them)")
    p.add_argument("form_id", metavar="FORM_ID")
    p.add_argument("sources", nargs="*", metavar="KIND:KEY", help="e.g. question:12, hidden:utm_source, consent:3")


def export(command, options):
    """The document on stdout (with --json too: it is the document); with --file, in the file,
    and a sentence on stdout unless --json."""
    form = form_named(options["form_id"])
    document = mapping_export(integration=integration_of(form))
    text = json.dumps(document, indent=2, ensure_ascii=False)
    path = options.get("file")
    if path:
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write(text + "\n")
        except OSError as exc:
            raise usage(f"Cannot write the mapping file {path}: {exc.strerror or exc}.")
        text = f"Mapping of form {form.linkedin_id} ({form}), {len(document['rows'])} rows, written to {path}."
    command.emit(document, text=text)
    return True


def import_(command, options):
    form = form_named(options["form_id"])
    integration = integration_of(form)
    document = read_mapping_document(options["file"])
    summary = mapping_import(integration=integration, document=document, by=CLI)
    command.emit(
        {"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "state": integration.state, **summary},
        text=(f"Mapping of form {form.linkedin_id} ({form}) imported from {options['file']}: {summary['updated']} rows "
              f"changed, {summary['created']} added, {summary['unchanged']} already so, {summary['kept']} not in the "
              f"file kept as they were."),
    )
    return True


def reviewed(command, options):
    form = form_named(options["form_id"])
    integration = integration_of(form)
    review = dict(integration.mapping_review or {})
    integration_mapping_reviewed(integration=integration, by=CLI)
    if review:
        text = (f"Mapping of form {form.linkedin_id} ({form}) marked reviewed; it was flagged by version "
                f"{review.get('version')} ({len(review.get('added', []))} sources added, "
                f"{len(review.get('removed', []))} removed).")
    else:
        text = f"Mapping of form {form.linkedin_id} ({form}) was not flagged for review: nothing to clear."
    command.emit({"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "was_flagged": bool(review),
                  "review": review}, text=text)
    return True


def create_fields(command, options):
    """Without sources, the unmapped ones a CRM field could be made for; with them, made and mapped."""
    form = form_named(options["form_id"])
    integration = integration_of(form)
    if not options["sources"]:
        suggested = [{"source": f"{kind}:{key}", "label": field["label"], "data_type": field["dataType"]}
                     for kind, key, field in mapping_fields_suggested(integration=integration)]
        command.emit({"ok": True, "form_id": form.linkedin_id, "suggested": suggested},
                     text="\n".join([f"Unmapped sources of form {form.linkedin_id} a CRM field can be made for:"]
                                    + [f"  {s['source']}: {s['label']} ({s['data_type']})" for s in suggested])
                     if suggested else f"Every source of form {form.linkedin_id} is mapped.")
        return True
    sources = {tuple(value.split(":", 1)) for value in options["sources"]}
    if any(len(source) != 2 for source in sources):
        raise usage("Each source is KIND:KEY, e.g. question:12 or hidden:utm_source.")
    mapped = mapping_fields_create(integration=integration, sources=sources, by=CLI)
    command.emit({"ok": True, "form_id": form.linkedin_id, "mapped": mapped},
                 text="\n".join([f"Created and mapped {len(mapped)} CRM field(s):"]
                                + [f"  {m['source_label']} -> {m['crm_field']}" for m in mapped]))
    return True
