"""A mapping exported as a JSON document and imported back: the same mapping on another integration
of the same form shape; an import refused as a whole, saying why, changes nothing; rows the
document does not name are kept; and recreate can start from an imported mapping."""

import json
from copy import deepcopy

import pytest

from connectors.models import LeadFormVersion
from leads.integrations import integration_recreate, integration_teardown
from mappings.models import FieldMapping, Integration
from mappings.services import (
    MAPPING_ROW_KEYS,
    MappingError,
    integration_mappings_complete,
    mapping_export,
    mapping_import,
)
from tests import factories

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {"id": "1", "name": "firstName", "text": "First name", "predefined_field": "FIRST_NAME", "type": "text"},
    {"id": "2", "name": "email", "text": "Email", "predefined_field": "EMAIL", "type": "text"},
    {"id": "3", "name": "phone", "text": "Phone", "predefined_field": "PHONE_NUMBER", "type": "text"},
    {"id": "4", "name": "interest", "text": "Interested in", "predefined_field": None, "type": "multiple_choice",
     "options": [{"id": "1", "text": "A"}, {"id": "2", "text": "B"}]},
]
FIELDS = [("firstName", "First Name", "text", False), ("lastName", "Last Name", "text", False), ("emailAddress", "Email", "text", False),
          ("phoneNumber", "Phone", "text", False), ("companyName", "Company Name", "text", False),
          ("leadScore", "Lead Score", "int", False), ("Interest_1", "Interest", "text", True),
          ("Consent_1", "Marketing consent", "bit", True), ("Submitted_1", "Submitted on", "text", True)]


def shaped_integration(catalogue=True):
    """An integration of a form with questions, a hidden field and a consent, auto-mapped; every
    call makes another form (another LinkedIn id) of the same shape, into another CRM connection."""
    form = factories.lead_form()
    LeadFormVersion.objects.filter(form=form).update(definition={
        "form_id": form.linkedin_id, "version": 1, "name": form.name, "questions": deepcopy(QUESTIONS),
        "hidden_fields": [{"name": "utm_source", "value": "linkedin"}],
        "consents": [{"id": "7", "text": "I agree to receive marketing email", "label": None}],
    })
    crm = factories.crm_connection()
    if catalogue:
        for system_name, label, data_type, custom in FIELDS:
            factories.crm_field(crm, system_name=system_name, label=label, data_type=data_type, is_custom=custom)
    integration = factories.integration(form=form, crm=crm)
    integration_mappings_complete(integration=integration)
    return integration


def rows_of(integration):
    """The mapping as an operator sees it, whatever the ids."""
    return [tuple(getattr(r, key) for key in MAPPING_ROW_KEYS) for r in integration.mappings.order_by("position", "pk")]


def edit(integration, key, **values):
    FieldMapping.objects.filter(integration=integration, source_key=key).update(**values)


def entry(document, key):
    return next(r for r in document["rows"] if r["source_key"] == key)


@pytest.fixture
def source():
    """An integration whose mapping an admin has worked on: options, a disabled row, a new order."""
    integration = shaped_integration()
    edit(integration, "4", crm_field="Interest_1", transform="join", transform_option=" | ")
    edit(integration, "3", transform="phone_e164", transform_option="US")
    edit(integration, "7", crm_field="Consent_1", transform="one_zero")
    edit(integration, "submitted_at", crm_field="Submitted_1", transform="date_pattern", transform_option="%d.%m.%Y")
    edit(integration, "lead_type", crm_field="companyName", transform="constant", transform_option="LinkedIn event")
    edit(integration, "utm_source", enabled=False, position=99)
    return integration


def test_the_export_is_a_versioned_document_of_every_row_with_the_form_and_crm_named(source):
    document = mapping_export(integration=source)
    assert (document["format"], document["version"]) == ("leadsync-mapping", 1)
    assert document["form_id"] == source.form.linkedin_id and document["crm_connection"] == source.crm_connection.name
    assert len(document["rows"]) == source.mappings.count()
    assert list(document["rows"][0]) == list(MAPPING_ROW_KEYS)
    assert entry(document, "4") | {"position": None} == {
        "source_kind": "question", "source_key": "4", "source_label": "Interested in", "crm_field": "Interest_1",
        "transform": "join", "transform_option": " | ", "enabled": True, "position": None}
    assert json.loads(json.dumps(document)) == document
    assert "SECRET" not in json.dumps(document)


def test_export_then_import_on_another_integration_of_the_same_form_shape_gives_the_same_mapping(source):
    target = shaped_integration()
    assert rows_of(target) != rows_of(source)
    document = json.loads(json.dumps(mapping_export(integration=source)))  # through a file, as an operator would

    summary = mapping_import(integration=target, document=document)

    assert rows_of(target) == rows_of(source)
    assert summary == {"updated": 6, "created": 0, "unchanged": len(document["rows"]) - 6, "kept": 0}
    assert mapping_import(integration=target, document=document)["updated"] == 0  # importing again changes nothing


def test_rows_the_document_does_not_name_are_kept_as_they_are(source):
    before = {r[:2]: r for r in rows_of(source)}
    document = mapping_export(integration=source)
    document["rows"] = [dict(entry(document, "1"), crm_field="", enabled=True)]
    summary = mapping_import(integration=source, document=document)
    after = {r[:2]: r for r in rows_of(source)}
    assert summary["updated"] == 1 and summary["kept"] == len(before) - 1
    assert after.pop(("question", "1"))[3] == "" and before.pop(("question", "1"))[3] == "firstName"
    assert after == before


def test_a_source_of_the_form_without_a_row_gets_one(source):
    document = mapping_export(integration=source)
    FieldMapping.objects.filter(integration=source, source_key="utm_source").delete()
    summary = mapping_import(integration=source, document=document)
    assert summary["created"] == 1
    utm = source.mappings.get(source_key="utm_source")
    assert (utm.source_label, utm.enabled, utm.position) == ("utm_source", False, 99)


def test_unknown_crm_fields_are_accepted_while_the_catalogue_is_not_loaded():
    integration = shaped_integration(catalogue=False)
    document = mapping_export(integration=integration)
    entry(document, "4")["crm_field"] = "Made_In_The_CRM_Later"
    assert mapping_import(integration=integration, document=document)["updated"] == 1


def _email_unmapped(document):
    entry(document, "2")["crm_field"] = ""


def _field_twice(document):
    entry(document, "4")["crm_field"] = "lastName"  # the field the good change below gives question 1


def _transform_does_not_fit(document):
    entry(document, "4").update(crm_field="leadScore", transform="yes_no", transform_option="")


def _unknown_source(document):
    document["rows"].append({"source_kind": "question", "source_key": "99", "crm_field": "companyName"})


def _unknown_crm_field(document):
    entry(document, "4")["crm_field"] = "noSuchField"


def _missing_option(document):
    entry(document, "4")["transform_option"] = ""


def _unknown_transform(document):
    entry(document, "4")["transform"] = "shout"


def _a_constant_the_field_refuses(document):
    entry(document, "lead_type").update(crm_field="leadScore", transform_option="many")


def _wrong_type(document):
    entry(document, "4")["enabled"] = "yes"


def _twice(document):
    document["rows"].append(dict(entry(document, "4")))


def _not_a_mapping(document):
    document.pop("format")


def _a_later_version(document):
    document["version"] = 2


def _no_rows(document):
    document["rows"] = {"1": "firstName"}


def _a_nul_in_an_option(document):
    entry(document, "4").update(transform="join", transform_option="\x00")


def _a_lone_surrogate(document):
    entry(document, "4")["transform_option"] = "%d\ud800"


@pytest.mark.parametrize("spoil, says", [
    (_email_unmapped, "Question “Email”: emailAddress must stay mapped from an enabled source: it is the only field "
                      "the CRM requires"),
    (_field_twice, "lastName is set both by Question “First name” and by Question “Interested in”"),
    (_transform_does_not_fit, "Question “Interested in”: “Yes / No” does not fit leadScore, a number field"),
    (_unknown_source, "Question '99' is not a source of form"),
    (_unknown_crm_field, "Question “Interested in”: noSuchField is not in the field catalogue of the CRM connection"),
    (_missing_option, "Question “Interested in”: “Options joined with a separator you type” needs a separator"),
    (_unknown_transform, "Question “Interested in”: 'shout' is not a transform LeadSync knows."),
    (_a_constant_the_field_refuses, "Lead metadata “Lead type”: the constant cannot be sent: leadScore is a number "
                                    "field and 'many' is not a number"),
    (_wrong_type, "Question '4': \"enabled\" must be true or false."),
    (_twice, "Question '4' is in the document twice: a source has one row."),
    (_not_a_mapping, "This is not a LeadSync mapping document"),
    (_a_later_version, "This mapping document is version 2; this LeadSync reads version 1."),
    (_no_rows, "The mapping document has no list of \"rows\"."),
    (_a_nul_in_an_option, "The mapping document: the JSON holds a NUL character."),
    (_a_lone_surrogate, "The mapping document: the JSON holds text that is not valid Unicode"),
])
def test_a_refused_import_changes_nothing_and_says_why(source, spoil, says):
    before = rows_of(source)
    document = mapping_export(integration=source)
    entry(document, "1")["crm_field"] = "lastName"  # a good change alongside: it is not made either
    spoil(document)
    with pytest.raises(MappingError) as refused:
        mapping_import(integration=source, document=document)
    assert says in str(refused.value)
    assert rows_of(source) == before


def test_every_reason_is_given_at_once(source):
    document = mapping_export(integration=source)
    _unknown_crm_field(document)
    entry(document, "3").update(transform="phone_e164", transform_option="Atlantis")
    with pytest.raises(MappingError) as refused:
        mapping_import(integration=source, document=document)
    message = str(refused.value)
    assert message.startswith(f"The mapping was not imported into {source}, nothing changed: ")
    assert "noSuchField" in message and "'Atlantis' is not a region" in message


def test_an_import_that_leaves_no_row_on_email_address_is_refused_even_when_none_had_it():
    integration = shaped_integration()
    edit(integration, "2", crm_field="")
    document = mapping_export(integration=integration)
    entry(document, "4")["crm_field"] = "Interest_1"
    with pytest.raises(MappingError, match="emailAddress must be mapped from an enabled source"):
        mapping_import(integration=integration, document=document)
    entry(document, "2")["crm_field"] = "emailAddress"
    mapping_import(integration=integration, document=document)
    assert integration.mappings.get(source_key="2").crm_field == "emailAddress"


# --- a torn-down integration, and recreate ------------------------------------------------------------------


def torn_down(integration):
    integration_teardown(integration=integration)
    return Integration.objects.get(pk=integration.pk)


def test_a_torn_down_integration_takes_an_import(source):
    target = torn_down(shaped_integration())
    mapping_import(integration=target, document=mapping_export(integration=source))
    assert rows_of(target) == rows_of(source)


def test_recreate_can_start_from_an_imported_mapping(source):
    target = torn_down(shaped_integration())
    result = integration_recreate(form=target.form, mapping=mapping_export(integration=source))
    assert result["mapping_imported"]["updated"] == 6 and result["state"] == "active"
    assert rows_of(target) == rows_of(source)
    assert Integration.objects.get(pk=target.pk).periodic_task.enabled


def test_recreate_with_a_refused_mapping_stays_torn_down_and_keeps_its_mapping(source):
    target = torn_down(shaped_integration())
    before = rows_of(target)
    document = mapping_export(integration=source)
    _email_unmapped(document)
    with pytest.raises(MappingError):
        integration_recreate(form=target.form, mapping=document)
    stored = Integration.objects.get(pk=target.pk)
    assert stored.state == "torn_down" and stored.periodic_task_id is None and rows_of(target) == before
