"""The mapping engine on generated answers, rows, transforms and options: whatever a lead says and
whatever an admin typed, every row ends in exactly one outcome and the engine never raises
(LGF-109: a bad value is a field outcome; no e-mail is the lead's error)."""

from hypothesis import given
from hypothesis import strategies as st

from connectors.payloads import check_storable
from mappings.engine import (
    METADATA_SOURCES,
    SOURCE_KINDS,
    TRANSFORM_OPTIONS,
    TRANSFORMS,
    apply_mapping,
    transform_problems,
)
from tests.hostile import strategies as hs

QUESTION_KEYS = ["101", "102", "103", "104"]
HIDDEN_KEYS = ["utm_source", "campaign"]
CONSENT_KEYS = ["1", "2"]
CRM_FIELDS = ["emailAddress", "firstName", "phoneNumber", "leadStatus", "leadScore", "active", "title", "custom_1",
              "custom_2", "custom_3", ""]
DATA_TYPES = ["text", "int", "integer", "bit", "boolean", "decimal", "float", "picklist", "date", "textarea", "",
              None, "Currency"]


RANDOMS = st.randoms(use_true_random=True)  # the valid skeleton: one draw; the hostile values: drawn
VALUES = {storable: hs.values(storable=storable) for storable in (True, False)}


@st.composite
def leads(draw, *, storable=True):
    """A NormalizedLead of the parser's shape, its values anything JSON can hold."""
    rng = draw(RANDOMS)
    questions = rng.sample(QUESTION_KEYS, rng.randint(0, 4))
    hidden = rng.sample(HIDDEN_KEYS, rng.randint(0, 2))
    consents = rng.sample(CONSENT_KEYS, rng.randint(0, 2))
    entity = rng.choice([None, "event", "creative"])
    count = len(questions) + len(hidden) + len(consents) + 5 + (entity == "event")
    values = iter(draw(st.lists(VALUES[storable], min_size=count, max_size=count)))
    associated = {"event": lambda: {"kind": "event", "urn": next(values)},
                  "creative": lambda: {"kind": None, "urn": "urn:li:sponsoredCreative:5"}}.get(entity, lambda: None)()
    return {
        "id": f"{rng.getrandbits(64):x}", "lead_type": next(values), "owner_urn": next(values),
        "form_id": "987", "form_version": next(values), "submitted_at": draw(hs.HOSTILE_NUMBERS),
        "test_lead": rng.random() < 0.5, "submitter_urn": next(values), "campaign_urn": next(values),
        "associated_entity": associated,
        "answers": {key: {"name": key, "text": None, "predefined_field": rng.choice(hs.PREDEFINED),
                          "type": rng.choice(["text", "multiple_choice"]), "value": next(values), "option_ids": []}
                    for key in questions},
        "hidden_fields": {key: next(values) for key in hidden},
        "consents": {key: {"text": None, "accepted": next(values)} for key in consents},
        "errors": [],
    }


OPTION_EXAMPLES = [spec.example for spec in TRANSFORM_OPTIONS.values()] + [
    "", " ", "US", "gb", "ZZ", "%Y-%m-%d", "%d.%m.%Y %H:%M", "%", "%Q", "%%", "%Y%", "x" * 300, "%-d", "%s", "|",
    None]
# Typed by an admin, through Django's forms (which refuse NUL) or a mapping file: kept storable here.
OPTIONS = st.one_of(st.sampled_from(OPTION_EXAMPLES), st.text(st.characters(exclude_characters="\x00"), max_size=12))
ROW_KINDS = list(SOURCE_KINDS) + ["nonsense", "", None]
ROW_KEYS = {"question": QUESTION_KEYS, "hidden": HIDDEN_KEYS, "consent": CONSENT_KEYS,
            "metadata": list(METADATA_SOURCES) + ["no_such_key"]}
ROW_TRANSFORMS = list(TRANSFORMS) + ["no_such_transform", "", None]


@st.composite
def rows(draw, *, max_size=8):
    rng = draw(RANDOMS)
    mapping = []
    for option in draw(st.lists(OPTIONS, max_size=max_size)):
        kind = rng.choice(ROW_KINDS)
        mapping.append({
            "source_kind": kind,
            "source_key": rng.choice(ROW_KEYS.get(kind, ["x"]) + [7, None]),
            "crm_field": rng.choice(CRM_FIELDS),
            "transform": rng.choice(ROW_TRANSFORMS),
            "transform_option": option,
            "enabled": rng.random() < 0.8,
        })
    return mapping


def make_catalogue(rng):
    return [{"system_name": name, "label": name, "is_custom": name.startswith("custom"),
             "data_type": rng.choice(DATA_TYPES), "max_length": rng.choice([None, 0, 1, 5, 50, 255]),
             "options": rng.choice([None, [], ["Sales", "Engineering"], ["1", "0"], ["Ünï", "ünï"]])}
            for name in rng.sample(CRM_FIELDS[:-1], rng.randint(0, len(CRM_FIELDS) - 1))]


def catalogues():
    return st.builds(make_catalogue, RANDOMS)


FORM = {"form_id": "987", "version": 1, "name": "Webinar registration", "questions": [], "hidden_fields": [],
        "consents": []}


def check_mapping(lead, mapping, catalogue, *, storable):
    mapped = apply_mapping(lead, mapping, catalogue, form=FORM)
    assert len(mapped.outcomes) == len(mapping), "exactly one outcome per row"
    for outcome in mapped.outcomes:
        assert outcome["status"] in ("ok", "truncated", "error", "empty", "unmapped")
        assert isinstance(outcome["message"], str)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in mapped.crm_object.items())
    assert (mapped.lead_error is None) == ("emailAddress" in mapped.crm_object)
    if storable:  # what the push stores on the lead must be storable when the lead was
        check_storable({"crm": mapped.crm_object, "outcomes": mapped.outcomes, "error": mapped.lead_error},
                       what="the mapping's result")


@hs.budget(2500)
@given(leads(), rows(), catalogues())
def test_any_answer_through_any_row_becomes_field_outcomes_never_an_exception(lead, mapping, catalogue):
    check_mapping(lead, mapping, catalogue, storable=True)


@hs.budget(500)
@given(leads(storable=False), rows(), catalogues())
def test_values_no_parser_would_let_through_still_do_not_crash_the_engine(lead, mapping, catalogue):
    check_mapping(lead, mapping, catalogue, storable=False)


@hs.budget(600)
@given(rows(max_size=3), catalogues())
def test_the_editors_check_of_a_row_never_raises(mapping, catalogue):
    for row in mapping:
        problems = transform_problems(row, catalogue)
        assert set(problems) <= {"transform", "transform_option"}
        assert all(isinstance(text, str) and text for text in problems.values())
