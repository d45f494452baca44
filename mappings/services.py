"""What changes mappings: the rows of an integration's mapping, made from its form's definition by
the auto-mapper, and the CRM custom fields a form needs."""

from django.utils import timezone

from connectors.clients import crm_client
from connectors.crm_connections import crm_field_catalogue, crm_fields_load
from connectors.models import CrmConnection, LeadForm
from mappings import engine
from mappings.models import FieldMapping, Integration


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
        flagged.append(integration)
    return flagged


def integration_mapping_reviewed(*, integration: Integration) -> None:
    """An admin looked at the mapping after a form change: the flag goes."""
    Integration.objects.filter(pk=integration.pk).update(mapping_review={})
    integration.mapping_review = {}
