"""`leadsync mapping export`, `mapping import` and `mapping reviewed`: an integration's mapping as a
JSON document and back (checked like the admin's editor checks it), and the "mapping needs review"
flag a new form version raises, cleared."""

import json

from leads.cli.base import subcommand, usage
from leads.cli.integrations import form_named, integration_of, read_mapping_document
from mappings.services import integration_mapping_reviewed, mapping_export, mapping_import


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
    summary = mapping_import(integration=integration, document=document)
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
    integration_mapping_reviewed(integration=integration)
    if review:
        text = (f"Mapping of form {form.linkedin_id} ({form}) marked reviewed; it was flagged by version "
                f"{review.get('version')} ({len(review.get('added', []))} sources added, "
                f"{len(review.get('removed', []))} removed).")
    else:
        text = f"Mapping of form {form.linkedin_id} ({form}) was not flagged for review: nothing to clear."
    command.emit({"ok": True, "integration": integration.pk, "form_id": form.linkedin_id, "was_flagged": bool(review),
                  "review": review}, text=text)
    return True
