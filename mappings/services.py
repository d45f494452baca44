"""What changes mappings: the rows of an integration's mapping, made from its form's definition by
the auto-mapper, and the CRM custom fields a form needs; the flag a new form version raises; and
a mapping exported as a JSON document and imported back, checked like the editor checks it."""

from django.db import transaction
from django.utils import timezone

from connectors.clients import crm_client
from connectors.crm.schema import EMAIL_FIELD
from connectors.crm_connections import crm_field_catalogue, crm_fields_load
from connectors.exceptions import BadPayload, LeadSyncError
from connectors.payloads import check_storable
from connectors.models import CrmConnection, LeadForm
from mappings import engine
from mappings.audit import SYSTEM, Actor, record_by, row_change, row_source, row_values, rows_text
from mappings.forms import RowState, integration_catalogues, mapping_conflicts, source_name, whole_mapping_errors
from mappings.models import FieldMapping, Integration, IntegrationEvent


class MappingError(LeadSyncError):
    """A mapping was refused as a whole (an import): the message says why, row by row, and nothing
    was changed."""


def form_definition(form: LeadForm) -> dict | None:
    """The newest stored version of the form (what new mappings are built from)."""
    version = form.versions.order_by("-version").first()
    return version.definition if version else None


def crm_field_suggestions(*, crm_connection: CrmConnection, definition: dict) -> list[tuple[str, str, dict]]:
    """The CRM custom fields the form needs and does not find in the CRM's catalogue: (source kind,
    source key, createFields object) for each question, hidden field and consent that no existing
    field matches by label."""
    rows = engine.auto_map(definition, crm_field_catalogue(crm_connection))
    return engine.custom_field_suggestions(definition, rows)


def crm_fields_create_for_form(*, crm_connection: CrmConnection, definition: dict, sources=None) -> list[str]:
    """Create in the CRM the custom fields a form needs and does not find there (LGF-104), all of
    them or those of `sources` ((kind, key) pairs), then reload the catalogue so auto-mapping finds
    them. Returns the labels created; a field the CRM refuses is skipped."""
    wanted = [field for kind, key, field in crm_field_suggestions(crm_connection=crm_connection, definition=definition)
              if sources is None or (kind, key) in sources]
    if not wanted:
        return []
    results = crm_client(crm_connection).create_fields(wanted)
    crm_fields_load(connection=crm_connection)
    return [field["label"] for field, result in zip(wanted, results) if result.success]


def mapping_fields_suggested(*, integration: Integration) -> list[tuple[str, str, dict]]:
    """The integration's unmapped sources a CRM custom field could be made for: (kind, key,
    createFields object with the label and type it would get)."""
    definition = form_definition(integration.form)
    if definition is None:
        return []
    return engine.custom_field_suggestions(definition, list(integration.mappings.all()))


def mapping_fields_create(*, integration: Integration, sources, by: Actor | None = SYSTEM) -> list[dict]:
    """The mapping editor's "create as a new CRM field": for each of these unmapped sources ((kind,
    key) pairs), a CRM custom field with the label and type suggested for it (one the CRM already
    has under that label is used as it is, never made twice), then the catalogue is reloaded and
    the source's row mapped to it. Returns the rows mapped, each with its CRM field; a source that is
    mapped already, unknown, or refused by the CRM is left as it was (MappingError when none is
    left to do)."""
    crm = integration.crm_connection
    wanted = [(kind, key, field) for kind, key, field in mapping_fields_suggested(integration=integration)
              if (kind, key) in set(sources)]
    if not wanted:
        raise MappingError("None of these sources is an unmapped field of the form: nothing to create.")
    existing = {f["label"].casefold(): f["system_name"] for f in crm_field_catalogue(crm) if f.get("is_custom")}
    missing = [field for _, _, field in wanted if field["label"].casefold() not in existing]
    if missing:  # HTTP: outside any transaction
        crm_client(crm).create_fields(missing)
        crm_fields_load(connection=crm)
        existing = {f["label"].casefold(): f["system_name"] for f in crm_field_catalogue(crm) if f.get("is_custom")}
    taken = set(integration.mappings.exclude(crm_field="").values_list("crm_field", flat=True))
    mapped, changes = [], []
    for kind, key, field in wanted:
        system_name = existing.get(field["label"].casefold())
        if not system_name or system_name in taken:
            continue
        row = integration.mappings.get(source_kind=kind, source_key=key)
        old = row_values(row)
        row.crm_field, row.enabled = system_name, True
        if kind == FieldMapping.SourceKind.CONSENT:
            row.transform = "one_zero"  # the field made for a consent is a yes/no (bit) field
        row.save(update_fields=["crm_field", "enabled", "transform"])
        taken.add(system_name)
        changes.append(row_change(row, old, row_values(row)))
        mapped.append({"source_kind": kind, "source_key": key, "source_label": row.source_label,
                       "crm_field": system_name, "label": field["label"]})
    if mapped:
        record_by(by, integration, IntegrationEvent.Kind.MAPPING_CHANGED,
                  f"Created {len(mapped)} CRM field(s) and mapped them: {rows_text([c for c in changes if c])}.",
                  {"rows": [c for c in changes if c], "crm_fields_created": [m["label"] for m in mapped]})
    return mapped


def integration_mappings_complete(*, integration: Integration) -> int:
    """Give every source of the form's newest version a mapping row, auto-mapped to the CRM's
    fields (LGF-103): all of them for a new integration, the ones a newer form version added for
    an existing one. Existing rows, and the admins' changes to them, are kept, and a CRM field an
    existing row already fills is not given to a new one. Returns how many rows were added."""
    definition = form_definition(integration.form)
    if definition is None:
        return 0
    existing = set(integration.mappings.values_list("source_kind", "source_key"))
    rows = [r for r in engine.auto_map(definition, crm_field_catalogue(integration.crm_connection))
            if (r["source_kind"], r["source_key"]) not in existing]
    taken = set(integration.mappings.exclude(crm_field="").values_list("crm_field", flat=True))
    last = integration.mappings.order_by("-position").values_list("position", flat=True).first()
    start = 0 if last is None else last + 1
    FieldMapping.objects.bulk_create(
        FieldMapping(
            integration=integration, position=start + i, source_kind=row["source_kind"], source_key=row["source_key"],
            source_label=row.get("source_label", "")[:500],
            crm_field="" if row.get("crm_field") in taken else (row.get("crm_field") or ""),
            transform=row.get("transform") or "none", enabled=row.get("enabled", True),
        )
        for i, row in enumerate(rows)
    )
    return len(rows)


def _source(row) -> dict:
    return {"source_kind": row.source_kind, "source_key": row.source_key, "source_label": row.source_label}


def integrations_review_form_version(*, form: LeadForm, version: int, **signal) -> list[Integration]:
    """A version of `form` LeadSync had not stored was stored. When it is the form's newest (not
    an older one a lead answered, nor the first), every live integration of the form gets a mapping
    row for each source the version added, auto-mapped like at enable or left unmapped, and is
    flagged "mapping needs review" with the sources added and those the version no longer has.
    Nothing is dropped: leads keep syncing with what is mapped, and rows of removed sources stay
    for the leads that answered older versions. Returns the integrations flagged."""
    versions = sorted(form.versions.values_list("version", flat=True))
    if len(versions) < 2 or version != versions[-1]:
        return []
    definition = form_definition(form)
    current = {(kind, key) for kind, key, _ in engine.form_sources(definition)}
    flagged = []
    for integration in form.integrations.exclude(state=Integration.State.TORN_DOWN).select_related("crm_connection"):
        before = set(integration.mappings.values_list("pk", flat=True))
        integration_mappings_complete(integration=integration)
        rows = list(integration.mappings.order_by("position", "pk"))
        review = dict(integration.mapping_review or {})
        added = {(a["source_kind"], a["source_key"]): a for a in review.get("added", [])}
        added.update({(r.source_kind, r.source_key): _source(r) for r in rows if r.pk not in before})
        removed = [_source(r) for r in rows
                   if r.source_kind != FieldMapping.SourceKind.METADATA and (r.source_kind, r.source_key) not in current]
        if not added and not removed:
            continue
        review.update(version=version, added=[a for key, a in added.items() if key in current], removed=removed,
                      since=review.get("since") or timezone.now().isoformat(timespec="seconds"))
        Integration.objects.filter(pk=integration.pk).update(mapping_review=review)
        integration.mapping_review = review
        new_rows = [r for r in rows if r.pk not in before]
        record_by(SYSTEM, integration, IntegrationEvent.Kind.MAPPING_AUTO,
                  f"Version {version} of the form changed its sources: {len(new_rows)} row(s) added "
                  f"({sum(1 for r in new_rows if r.crm_field)} auto-mapped), {len(removed)} source(s) no longer on the "
                  "form; the mapping needs review.",
                  {"version": version, "rows_added": [{**row_source(r), "crm_field": r.crm_field} for r in new_rows],
                   "removed": removed})
        flagged.append(integration)
    return flagged


def integration_mapping_reviewed(*, integration: Integration, by: Actor | None = SYSTEM) -> None:
    """An admin looked at the mapping after a form change: the flag goes (recorded when there was one;
    `by=None` when the caller's own event says it, as a saved mapping edit does)."""
    review = integration.mapping_review or {}
    Integration.objects.filter(pk=integration.pk).update(mapping_review={})
    integration.mapping_review = {}
    if review:
        record_by(by, integration, IntegrationEvent.Kind.MAPPING_REVIEWED,
                  f"Mapping marked reviewed (flagged by version {review.get('version')} of the form).",
                  {"version": review.get("version"), "added": review.get("added", []),
                   "removed": review.get("removed", [])})


# --- export and import ----------------------------------------------------------------------------------

MAPPING_FORMAT, MAPPING_FORMAT_VERSION = "leadsync-mapping", 1
# What a document says of each row, in this order.
MAPPING_ROW_KEYS = ("source_kind", "source_key", "source_label", "crm_field", "transform", "transform_option",
                    "enabled", "position")
_EDITED = ("crm_field", "transform", "transform_option", "enabled", "position")


def mapping_export(*, integration: Integration) -> dict:
    """The integration's mapping as a JSON-ready document: a format name and version (so that a
    later LeadSync still knows what it reads), then one entry per row, in the editor's order. The
    form and the CRM connection are named for whoever reads it; an import checks the rows against
    its own integration's form and CRM, not against these."""
    rows = integration.mappings.order_by("position", "pk")
    return {
        "format": MAPPING_FORMAT, "version": MAPPING_FORMAT_VERSION,
        "form_id": integration.form.linkedin_id, "form_name": integration.form.name,
        "crm_connection": integration.crm_connection.name,
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "rows": [{key: getattr(row, key) for key in MAPPING_ROW_KEYS} for row in rows],
    }


def _kind_label(kind) -> str:
    return FieldMapping.SourceKind(kind).label if kind in FieldMapping.SourceKind.values else str(kind)


def _document_rows(document) -> tuple[list[dict], list[str]]:
    """The rows of a mapping document, each with the columns it gives (typed), and what is wrong
    with its shape."""
    if not isinstance(document, dict) or document.get("format") != MAPPING_FORMAT:
        return [], [f"This is not a LeadSync mapping document (its \"format\" is not \"{MAPPING_FORMAT}\"): "
                    f"export one with `leadsync mapping export` or the integration's \"Export mapping\"."]
    if document.get("version") != MAPPING_FORMAT_VERSION:
        return [], [f"This mapping document is version {document.get('version')!r}; this LeadSync reads version "
                    f"{MAPPING_FORMAT_VERSION}."]
    if not isinstance(document.get("rows"), list):
        return [], ["The mapping document has no list of \"rows\"."]
    try:  # text PostgreSQL cannot keep (NUL, lone surrogates), absurd nesting or numbers
        check_storable(document, what="The mapping document")
    except BadPayload as exc:
        return [], [f"{exc}."]
    types = {"crm_field": str, "transform": str, "transform_option": str, "enabled": bool, "position": int}
    rows, problems, seen = [], [], set()
    for n, entry in enumerate(document["rows"], start=1):
        if not isinstance(entry, dict):
            problems.append(f"Row {n} of the document is not an object.")
            continue
        kind, key = entry.get("source_kind"), entry.get("source_key")
        if kind not in FieldMapping.SourceKind.values or not isinstance(key, (str, int)) or isinstance(key, bool) \
                or str(key) == "":
            problems.append(f"Row {n} of the document does not name a source: it needs a \"source_kind\" (one of "
                            f"{', '.join(FieldMapping.SourceKind.values)}) and a \"source_key\".")
            continue
        name = f"{_kind_label(kind)} {str(key)!r}"
        if (kind, str(key)) in seen:
            problems.append(f"{name} is in the document twice: a source has one row.")
            continue
        seen.add((kind, str(key)))
        row = {"source_kind": kind, "source_key": str(key), "source_label": entry.get("source_label")}
        for column, kind_of in types.items():
            if column not in entry:
                continue
            value = entry[column]
            if not isinstance(value, kind_of) or (kind_of is int and (isinstance(value, bool) or value < 0)):
                problems.append(f"{name}: \"{column}\" must be "
                                + {str: "text", bool: "true or false", int: "a whole number, 0 or more"}[kind_of] + ".")
                continue
            row[column] = value
        rows.append(row)
    return rows, problems


@transaction.atomic
def mapping_import(*, integration: Integration, document, by: Actor | None = SYSTEM) -> dict:
    """`mapping_import_rows` recorded as one event of `by` (none with `by=None`), in the import's
    transaction; returns its summary."""
    summary, rows = mapping_import_rows(integration=integration, document=document)
    record_by(by, integration, IntegrationEvent.Kind.MAPPING_IMPORTED,
              f"Mapping imported: {summary['updated']} row(s) changed, {summary['created']} added, "
              f"{summary['unchanged']} already so, {summary['kept']} not in the document kept"
              + (f" ({rows_text(rows)})." if rows else "."), {**summary, "rows": rows})
    return summary


@transaction.atomic  # what is checked is what is changed: no edit slips in between
def mapping_import_rows(*, integration: Integration, document) -> tuple[dict, list[dict]]:
    """Make the integration's mapping what `document` (a `mapping_export` document) says, row by
    row. Every row it names must be a source of the integration's form (a question, hidden field
    or consent of its newest version, a metadata key, or a source the integration already has a
    row for, such as one a newer version dropped); its CRM field must be in the CRM's catalogue
    (when one is loaded); its transform must be known, with a sound option, and fit the field; and
    the mapping that results must keep the editor's rules (emailAddress mapped, no CRM field set
    by two enabled sources). Anything wrong refuses the whole import with MappingError, naming
    each row, and changes nothing. Rows of the form the document does not name are kept as they
    are. A torn-down integration takes an import too, so that recreate starts from it.

    Returns (summary, rows): the summary {"updated", "created", "unchanged", "kept"} counts rows
    changed, rows made for a source of the form that had none, rows named but already so, and rows
    not named; `rows` is each row changed or made with its columns' old and new values (what the
    audit trail records)."""
    entries, problems = _document_rows(document)
    if problems:
        raise MappingError(" ".join(problems))

    # Every source of the form's newest version and every metadata key, with the label auto_map gives it.
    labels = {(r["source_kind"], r["source_key"]): r["source_label"]
              for r in engine.auto_map(form_definition(integration.form) or {}, [])}
    stored = {(row.source_kind, row.source_key): row
              for row in integration.mappings.select_for_update().order_by("position", "pk")}
    catalogue = integration_catalogues([integration])[integration.pk]
    names = {info["system_name"] for info in catalogue}
    last = max((row.position for row in stored.values()), default=-1)

    result = {source: FieldMapping(**{f.attname: getattr(row, f.attname) for f in FieldMapping._meta.concrete_fields})
              for source, row in stored.items()}  # copies: edited in memory until every check passed
    touched = []
    for entry in entries:
        source = (entry["source_kind"], entry["source_key"])
        row = result.get(source)
        if row is None:
            if source not in labels:
                problems.append(f"{_kind_label(source[0])} {source[1]!r} is not a source of form "
                                f"{integration.form.linkedin_id} ({integration.form}): the document was made for "
                                f"another form, or the form changed since.")
                continue
            last += 1
            row = result[source] = FieldMapping(integration=integration, source_kind=source[0], source_key=source[1],
                                                source_label=labels[source][:500], position=last)
        for column in _EDITED:
            if column in entry:
                setattr(row, column, entry[column])
        touched.append(row)
        if row.crm_field and names and row.crm_field not in names:
            problems.append(f"{source_name(row)}: {row.crm_field} is not in the field catalogue of the CRM connection "
                            f"{integration.crm_connection.name}.")
            continue
        problems += [f"{source_name(row)}: {problem}"
                     for problem in engine.transform_problems(row, catalogue).values()]

    if not problems:
        states = [RowState(key=source, integration_id=integration.pk, source=source_name(row), crm_field=row.crm_field,
                           enabled=row.enabled, was_email=source in stored and stored[source].crm_field == EMAIL_FIELD
                           and stored[source].enabled)
                  for source, row in result.items()]
        conflicts = mapping_conflicts(states)
        for source, messages in conflicts.items():
            if source in result:
                name = source_name(result[source])
                problems += [message if name in message else f"{name}: {message}" for message in messages]
        problems += whole_mapping_errors(conflicts)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise MappingError(f"The mapping was not imported into {integration}, nothing changed: " + " ".join(unique))

    created = [row for row in touched if row.pk is None]
    changed = [row for row in touched if row.pk is not None
               and any(getattr(row, c) != getattr(stored[(row.source_kind, row.source_key)], c) for c in _EDITED)]
    FieldMapping.objects.bulk_create(created)
    FieldMapping.objects.bulk_update(changed, _EDITED)
    rows = [row_change(row, row_values(stored[(row.source_kind, row.source_key)]), row_values(row)) for row in changed]
    rows += [{**row_source(row), "created": True,
              "changes": {column: {"old": None, "new": value} for column, value in row_values(row).items()}}
             for row in created]
    return ({"updated": len(changed), "created": len(created), "unchanged": len(touched) - len(changed) - len(created),
             "kept": len(stored) - (len(touched) - len(created))}, rows)
