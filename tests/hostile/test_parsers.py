"""The answer parser and the form parser on generated hostile input: whatever LinkedIn (or
something answering in its place) sends, they either give a result the database can keep or raise
our own BadPayload, never anything else (issue 9: "never an exception other than our own")."""

import json

from hypothesis import given
from hypothesis import strategies as st

from connectors.exceptions import BadPayload
from connectors.linkedin.forms import form_fields, parse_lead_form
from connectors.linkedin.responses import form_reference, normalize_response, sample_response
from connectors.payloads import check_storable
from mappings.engine import apply_mapping, auto_map, custom_field_suggestions
from tests.hostile import strategies as hs

CATALOGUE = [
    {"system_name": "emailAddress", "label": "Email", "data_type": "text", "max_length": 150, "is_custom": False},
    {"system_name": "firstName", "label": "First Name", "data_type": "text", "max_length": 50, "is_custom": False},
    {"system_name": "interest_5", "label": "Interested in", "data_type": "text", "max_length": 255,
     "is_custom": True},
    {"system_name": "consent_6", "label": "Consent 1", "data_type": "bit", "max_length": None, "is_custom": True},
]


def assert_storable(value):
    check_storable(value, what="the parser's result")
    json.dumps(value, allow_nan=False)  # and writable as JSON, as the JSON column does


@st.composite
def forms_and_leads(draw, *, storable):
    """A form (parsed, as the lookup would hold it) and a lead answering it, then spoiled."""
    form = draw(hs.lead_forms())
    element, by_urn, legal = form
    definition = parse_lead_form(element, questions_by_urn=by_urn, legal_info=legal)
    lead = draw(hs.mutated(hs.lead_elements(form), storable=storable, hot_keys=hs.LEAD_HOT_KEYS))
    lookup = draw(st.sampled_from(["exact", "newest only", "none"]))
    return definition, lead, lookup


def lookup_of(definition, how):
    def form_versions(form_id, version):
        if how == "none" or form_id != definition["form_id"]:
            return None
        if how == "newest only" and version is not None:
            return None
        return definition
    return form_versions


def check_lead(definition, lead, how):
    try:
        normalized = normalize_response(lead, lookup_of(definition, how))
    except BadPayload as exc:
        assert exc.message and "Traceback" not in exc.message
        return None
    assert_storable(normalized)
    assert isinstance(normalized["id"], str) and 0 < len(normalized["id"]) <= 200
    assert isinstance(normalized["submitted_at"], int)
    for error in normalized["errors"]:
        assert set(error) == {"source", "message"}
    # What the pipeline does next with a parsed lead must not fail on it either.
    rows = auto_map(definition, CATALOGUE)
    mapped = apply_mapping(normalized, rows, CATALOGUE, form=definition)
    assert len(mapped.outcomes) == len(rows)
    assert_storable({"crm": mapped.crm_object, "outcomes": mapped.outcomes, "error": mapped.lead_error})
    return normalized


@hs.budget(2000)
@given(forms_and_leads(storable=True))
def test_a_spoiled_lead_is_parsed_into_storable_json_or_refused_as_bad_payload(case):
    check_lead(*case)


@hs.budget(800)
@given(forms_and_leads(storable=False))
def test_a_lead_holding_what_a_database_cannot_keep_is_refused_or_cleaned(case):
    """NaN, Infinity, lone surrogates, NUL, nesting far past any lead's: handed to the parser
    directly (not through connectors.payloads.loads, which refuses them first)."""
    check_lead(*case)


@hs.budget(400)
@given(hs.values(storable=False))
def test_anything_at_all_is_a_lead_or_a_bad_payload(value):
    try:
        assert_storable(normalize_response(value, lambda form_id, version: None))
    except BadPayload:
        pass
    form_reference(value)  # never raises: None when no form can be read


@st.composite
def spoiled_forms(draw, *, storable):
    form = draw(hs.lead_forms())
    element = draw(hs.mutated(st.just(form[0]), storable=storable, hot_keys=hs.FORM_HOT_KEYS))
    by_urn, legal = form[1], form[2]
    if by_urn is not None and draw(st.booleans()):
        by_urn = draw(hs.mutated(st.just(by_urn), storable=storable, max_mutations=2))
    if legal is not None and draw(st.booleans()):
        legal = draw(hs.mutated(st.just(legal), storable=storable, max_mutations=2))
    return element, by_urn, legal


def check_form(element, by_urn, legal):
    try:
        definition = parse_lead_form(element, questions_by_urn=by_urn, legal_info=legal)
    except BadPayload as exc:
        assert exc.message
        return
    assert_storable(definition)
    # Everything built on a parsed form: the operator's field list, auto-mapping, custom field
    # suggestions, the sample lead of the mapping preview and its mapping.
    assert_storable(form_fields(definition))
    rows = auto_map(definition, CATALOGUE)
    custom_field_suggestions(definition, rows[:1])
    sample = sample_response(definition)
    assert_storable(sample)
    assert len(apply_mapping(sample, rows, CATALOGUE, form=definition).outcomes) == len(rows)


@hs.budget(1200)
@given(spoiled_forms(storable=True))
def test_a_spoiled_form_is_parsed_into_a_usable_definition_or_refused_as_bad_payload(case):
    check_form(*case)


@hs.budget(400)
@given(spoiled_forms(storable=False))
def test_a_form_holding_what_a_database_cannot_keep_is_refused_or_cleaned(case):
    check_form(*case)
