"""The mapping engine, on the shapes of the internal contract (FormDefinition, NormalizedLead, CrmFieldInfo)."""

from copy import deepcopy
from types import SimpleNamespace

import pytest

from connectors.crm.schema import LEAD_STATUSES
from mappings.engine import (
    METADATA_SOURCES,
    TRANSFORMS,
    MappedLead,
    apply_mapping,
    auto_map,
    suggest_custom_fields,
)


def question(qid, text, predefined=None, *, name=None, label=None, options=(), max_length=300):
    return {
        "id": qid, "name": name or text.lower().replace(" ", "_"), "label": label, "text": text,
        "predefined_field": predefined, "type": "multiple_choice" if options else "text",
        "required": True, "max_length": None if options else max_length,
        "options": [{"id": str(i), "text": t, "label": None} for i, t in enumerate(options)],
    }


FORM = {
    "form_id": "987", "version": 1, "name": "Webinar registration", "state": "PUBLISHED",
    "owner_urn": "urn:li:organization:1", "locale": "en_US", "headline": "Join us",
    "questions": [
        question("101", "First name", "FIRST_NAME"),
        question("102", "Last name", "LAST_NAME"),
        question("103", "Email address", "EMAIL"),
        question("104", "Company name", "COMPANY_NAME"),
        question("105", "Job function", "JOB_FUNCTION", options=["Sales", "Engineering"]),
        question("106", "Interested in", name="interest", options=["Option A", "Option B", "Option C"]),
        question("107", "Anything else?", name="comments", max_length=2000),
    ],
    "hidden_fields": [{"name": "utm_source", "value": "linkedin"}],
    "consents": [{"id": "1", "text": "I agree to receive marketing email", "required": False, "label": None}],
    "privacy_policy_url": None,
}


def crm_field(system_name, label, *, custom=True, data_type="text", max_length=None, options=None):
    return {"system_name": system_name, "label": label, "data_type": data_type, "max_length": max_length,
            "is_custom": custom, "is_required": False, "options": options}


STANDARD = [
    crm_field("firstName", "First Name", custom=False, max_length=50),
    crm_field("lastName", "Last Name", custom=False, max_length=50),
    crm_field("emailAddress", "Email", custom=False, max_length=150),
    crm_field("companyName", "Company Name", custom=False, max_length=100),
    crm_field("title", "Title", custom=False, max_length=255),
    crm_field("leadStatus", "Lead Status", custom=False),
]


def answer(name, value, predefined=None, option_ids=()):
    kind = "multiple_choice" if isinstance(value, list) else "text"
    return {"name": name, "text": name, "predefined_field": predefined, "type": kind, "value": value,
            "option_ids": list(option_ids)}


LEAD = {
    "id": "7c8da715-aaaa-5", "lead_type": "EVENT", "owner_urn": "urn:li:organization:1",
    "form_id": "987", "form_version": 1, "submitted_at": 1686182358881, "test_lead": False,
    "submitter_urn": "urn:li:person:abc",
    "associated_entity": {"kind": "event", "urn": "urn:li:event:789"},
    "campaign_urn": None,
    "answers": {
        "101": answer("firstName", "John", "FIRST_NAME"),
        "102": answer("lastName", "Doe", "LAST_NAME"),
        "103": answer("email", "john@example.com", "EMAIL"),
        "106": answer("interest", ["Option A", "Option C"], option_ids=["0", "2"]),
    },
    "consents": {"1": {"text": "I agree to receive marketing email", "accepted": True}},
    "hidden_fields": {"utm_source": "linkedin"},
    "errors": [],
}


def row(kind, key, crm, transform="none", enabled=True):
    return {"source_kind": kind, "source_key": key, "source_label": key, "crm_field": crm,
            "transform": transform, "enabled": enabled}


def outcome_of(result, key):
    return next(o for o in result.outcomes if o["source_key"] == key)


def by_key(rows):
    return {(r["source_kind"], r["source_key"]): r for r in rows}


# --- apply_mapping ----------------------------------------------------------------------------------------


def test_maps_answers_to_a_string_only_crm_object():
    rows = [row("question", "101", "firstName"), row("question", "103", "emailAddress")]

    result = apply_mapping(LEAD, rows, None)

    assert isinstance(result, MappedLead)
    assert result.crm_object == {"firstName": "John", "emailAddress": "john@example.com"}
    assert [o["status"] for o in result.outcomes] == ["ok", "ok"]
    assert result.lead_error is None


def test_one_bad_field_does_not_block_the_lead():
    catalogue = {"Plan_5a0": crm_field("Plan_5a0", "Plan", data_type="picklist", options=["Gold", "Silver"])}
    rows = [
        row("question", "101", "firstName"),
        row("question", "106", "Plan_5a0"),             # value is not a picklist option
        row("question", "102", "lastName", "no_such"),  # unknown transform
        row("consent", "1", "Agreed_5a1", "date_iso"),  # transform fails on a bool
        row("question", "103", "emailAddress"),
    ]

    result = apply_mapping(LEAD, rows, catalogue)

    assert result.crm_object == {"firstName": "John", "emailAddress": "john@example.com"}
    assert [o["status"] for o in result.outcomes] == ["ok", "error", "error", "error", "ok"]
    assert "not an option" in outcome_of(result, "106")["message"]
    assert "no_such" in outcome_of(result, "102")["message"]
    assert "date_iso" in outcome_of(result, "1")["message"]
    assert result.lead_error is None


def test_a_number_too_long_to_write_is_a_field_error_not_a_crash():
    """Found by the hostile-input suite: str() of a 5001-digit integer raises ValueError (Python's
    digit limit), which escaped apply_mapping and stopped the lead."""
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["utm_source"] = 10**5000
    rows = [row("hidden", "utm_source", "Source_5a2"), row("question", "103", "emailAddress")]

    result = apply_mapping(lead, rows, None)

    assert [o["status"] for o in result.outcomes] == ["error", "ok"]
    assert "cannot send a number" in outcome_of(result, "utm_source")["message"]
    assert result.crm_object == {"emailAddress": "john@example.com"}


def test_a_field_error_quoting_a_huge_answer_keeps_its_message_short():
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["utm_source"] = "x" * 70_000
    catalogue = [{"system_name": "Score_5a2", "label": "Score", "data_type": "int", "is_custom": True}]
    rows = [row("hidden", "utm_source", "Score_5a2"), row("question", "103", "emailAddress")]

    result = apply_mapping(lead, rows, catalogue)

    message = outcome_of(result, "utm_source")["message"]
    assert outcome_of(result, "utm_source")["status"] == "error" and len(message) <= 300


def test_overlong_value_is_truncated_not_rejected():
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = "J" * 80

    result = apply_mapping(lead, [row("question", "101", "firstName")], {"firstName": STANDARD[0]})

    assert result.crm_object["firstName"] == "J" * 50
    assert outcome_of(result, "101")["status"] == "truncated"
    assert "80" in outcome_of(result, "101")["message"]


def test_standard_field_limits_apply_without_a_catalogue():
    lead = deepcopy(LEAD)
    lead["answers"]["102"]["value"] = "D" * 60

    result = apply_mapping(lead, [row("question", "102", "lastName")], None)

    assert result.crm_object["lastName"] == "D" * 50
    assert outcome_of(result, "102")["status"] == "truncated"


@pytest.mark.parametrize("crm", ["city", "street"])
def test_city_and_street_are_cut_to_the_crms_255_characters_without_a_catalogue(crm):
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = "C" * 300

    result = apply_mapping(lead, [row("question", "101", crm)], None)

    assert result.crm_object[crm] == "C" * 255
    assert outcome_of(result, "101")["status"] == "truncated"


def test_truncation_counts_unicode_characters_not_bytes():
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = "é" * 40 + "漢字😀" * 10  # 70 characters, far more bytes

    result = apply_mapping(lead, [row("question", "101", "firstName")], None)

    assert result.crm_object["firstName"] == "é" * 40 + "漢字😀" * 3 + "漢"
    assert len(result.crm_object["firstName"]) == 50


def test_overlong_email_is_an_error_not_a_truncated_address():
    lead = deepcopy(LEAD)
    lead["answers"]["103"]["value"] = "x" * 150 + "@example.com"

    result = apply_mapping(lead, [row("question", "103", "emailAddress")], None)

    assert outcome_of(result, "103")["status"] == "error"
    assert "emailAddress" not in result.crm_object
    assert result.lead_error


def test_unicode_is_kept():
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = "Zoë 李 Ångström"

    result = apply_mapping(lead, [row("question", "101", "firstName", "title")], None)

    assert result.crm_object["firstName"] == "Zoë 李 Ångström"


def test_multiple_choice_joined_as_option_text():
    rows = [row("question", "106", "Interest_1", "join_comma"), row("question", "106", "Interest_2", "none"),
            row("question", "106", "Interest_3", "join_semicolon"),
            row("question", "106", "Interest_4", "first_option")]

    result = apply_mapping(LEAD, rows, None)

    assert result.crm_object == {"Interest_1": "Option A, Option C", "Interest_2": "Option A, Option C",
                                 "Interest_3": "Option A;Option C", "Interest_4": "Option A"}


def test_missing_email_is_a_lead_error():
    lead = deepcopy(LEAD)
    del lead["answers"]["103"]

    result = apply_mapping(lead, [row("question", "101", "firstName"), row("question", "103", "emailAddress")])

    assert result.lead_error and "emailAddress" in result.lead_error
    assert result.crm_object == {"firstName": "John"}
    assert outcome_of(result, "103")["status"] == "empty"


def test_absent_answer_is_empty_and_never_sent_as_null():
    rows = [row("question", "104", "companyName"), row("hidden", "utm_campaign", "Campaign_1"),
            row("consent", "9", "Consent_9", "yes_no"), row("metadata", "campaign_urn", "Campaign_2")]

    result = apply_mapping(LEAD, rows, None)

    assert [o["status"] for o in result.outcomes] == ["empty"] * 4
    assert result.crm_object == {}
    assert None not in result.crm_object.values()


def test_unmapped_and_disabled_rows_send_nothing():
    rows = [row("question", "101", ""), row("question", "102", None), row("question", "103", "emailAddress",
                                                                          enabled=False)]

    result = apply_mapping(LEAD, rows, None)

    assert result.crm_object == {}
    assert [o["status"] for o in result.outcomes] == ["unmapped"] * 3
    assert outcome_of(result, "103")["message"] == "mapping disabled"


def test_second_row_for_the_same_crm_field_is_an_error():
    rows = [row("question", "101", "firstName"), row("question", "102", "firstName"),
            row("question", "103", "emailAddress")]

    result = apply_mapping(LEAD, rows, None)

    assert result.crm_object["firstName"] == "John"
    assert outcome_of(result, "102") == {"source_kind": "question", "source_key": "102", "crm_field": "firstName",
                                         "status": "error", "message": "crm field already set by question:101"}


def test_later_row_for_the_same_crm_field_fills_in_when_the_first_is_empty():
    rows = [row("question", "999", "emailAddress"), row("question", "103", "emailAddress")]

    result = apply_mapping(LEAD, rows, None)

    assert result.crm_object == {"emailAddress": "john@example.com"}
    assert [o["status"] for o in result.outcomes] == ["empty", "ok"]


@pytest.mark.parametrize("status", LEAD_STATUSES)
def test_valid_lead_status_is_sent(status):
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["status"] = status

    result = apply_mapping(lead, [row("hidden", "status", "leadStatus")], None)

    assert result.crm_object == {"leadStatus": status}


def test_unknown_lead_status_is_a_field_error():
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["status"] = "hot"

    result = apply_mapping(lead, [row("hidden", "status", "leadStatus"),
                                  row("question", "103", "emailAddress")], None)

    assert outcome_of(result, "status")["status"] == "error"
    assert result.crm_object == {"emailAddress": "john@example.com"}


def test_picklist_value_is_sent_in_the_crm_spelling():
    catalogue = {"Plan_5a0": crm_field("Plan_5a0", "Plan", data_type="picklist", options=["Option A", "B"])}
    lead = deepcopy(LEAD)
    lead["answers"]["106"]["value"] = ["option  a"]

    result = apply_mapping(lead, [row("question", "106", "Plan_5a0", "join_comma")], catalogue)

    assert result.crm_object == {"Plan_5a0": "Option A"}


def test_catalogue_as_a_list_is_accepted():
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = "J" * 80

    result = apply_mapping(lead, [row("question", "101", "firstName")], [crm_field("firstName", "F", max_length=10)])

    assert result.crm_object["firstName"] == "J" * 10


def test_consent_renders_for_bit_and_text_fields():
    catalogue = {"Bit_1": crm_field("Bit_1", "Agreed", data_type="bit")}
    rows = [row("consent", "1", "Text_1", "yes_no"), row("consent", "1", "Bit_1"), row("consent", "1", "Text_2")]

    result = apply_mapping(LEAD, rows, catalogue)

    assert result.crm_object == {"Text_1": "Yes", "Bit_1": "1", "Text_2": "true"}


def test_metadata_sources():
    keys = ["linkedin_lead_id", "submitted_at", "lead_type", "form_id", "form_name", "form_version", "event_urn",
            "associated_entity_urn", "test_lead", "submitter_urn", "owner_urn"]
    rows = [row("metadata", key, f"M_{key}") for key in keys]
    rows[1]["transform"] = "datetime_crm"

    result = apply_mapping(LEAD, rows, None, form=FORM)

    assert result.crm_object == {
        "M_linkedin_lead_id": "7c8da715-aaaa-5", "M_submitted_at": "2023-06-07 23:59:18", "M_lead_type": "EVENT",
        "M_form_id": "987", "M_form_name": "Webinar registration", "M_form_version": "1",
        "M_event_urn": "urn:li:event:789", "M_associated_entity_urn": "urn:li:event:789",
        "M_test_lead": "false", "M_submitter_urn": "urn:li:person:abc", "M_owner_urn": "urn:li:organization:1",
    }


def test_unknown_source_is_a_field_error():
    rows = [row("metadata", "favourite_colour", "X_1"), row("webhook", "x", "X_2"),
            row("question", "103", "emailAddress")]

    result = apply_mapping(LEAD, rows, None)

    assert [o["status"] for o in result.outcomes] == ["error", "error", "ok"]


def test_outcomes_follow_row_order_and_are_deterministic():
    rows = [row("question", k, f"F_{k}") for k in ("107", "103", "101", "106")]

    first, second = apply_mapping(LEAD, rows, None), apply_mapping(LEAD, rows, None)

    assert [o["source_key"] for o in first.outcomes] == ["107", "103", "101", "106"]
    assert first == second


def test_model_rows_with_attributes_are_accepted():
    rows = [SimpleNamespace(**row("question", "103", "emailAddress"))]

    assert apply_mapping(LEAD, rows, None).crm_object == {"emailAddress": "john@example.com"}


def test_apply_mapping_does_not_mutate_its_inputs():
    lead, rows = deepcopy(LEAD), [row("question", "106", "I_1", "upper")]

    apply_mapping(lead, rows, None)

    assert lead == LEAD and rows == [row("question", "106", "I_1", "upper")]


# --- transforms -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("none", "  as is ", "  as is "),
        ("trim", "  x y  ", "x y"),
        ("lower", "MiXed", "mixed"),
        ("upper", "straße", "STRASSE"),
        ("title", "jean-luc o'neil don't", "Jean-Luc O'neil Don't"),
        ("upper", ["a", "b"], "A, B"),
        ("join_comma", ["A", "B"], "A, B"),
        ("join_semicolon", ["A", "B"], "A;B"),
        ("first_option", ["A", "B"], "A"),
        ("yes_no", True, "Yes"),
        ("yes_no", False, "No"),
        ("one_zero", True, "1"),
        ("one_zero", "false", "0"),
        ("date_iso", 1686182358881, "2023-06-07T23:59:18Z"),
        ("datetime_crm", 0, "1970-01-01 00:00:00"),
        ("digits", "+1 (555) 010-9999 ext", "+15550109999"),
        ("digits", "٠١٢ 345", "012345"),
    ],
)
def test_transforms(name, value, expected):
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["x"] = value

    result = apply_mapping(lead, [row("hidden", "x", "X_1", name)], None)

    assert result.crm_object == {"X_1": expected}


def test_every_transform_has_a_label_and_a_function():
    assert all(isinstance(label, str) and label and callable(fn) for label, fn in TRANSFORMS.values())


def test_transform_to_nothing_is_empty():
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["x"] = "   "

    result = apply_mapping(lead, [row("hidden", "x", "X_1", "trim")], None)

    assert outcome_of(result, "x")["status"] == "empty"
    assert result.crm_object == {}


# --- auto_map ---------------------------------------------------------------------------------------------


def test_auto_map_returns_one_row_per_source_in_form_order():
    rows = auto_map(FORM, STANDARD)

    assert [(r["source_kind"], r["source_key"]) for r in rows] == (
        [("question", q["id"]) for q in FORM["questions"]]
        + [("hidden", "utm_source"), ("consent", "1")]
        + [("metadata", key) for key in METADATA_SOURCES]
    )
    assert all(set(r) == {"source_kind", "source_key", "source_label", "crm_field", "transform", "enabled"}
               for r in rows)
    assert auto_map(FORM, STANDARD) == rows


def test_auto_map_predefined_fields_to_standard_crm_fields():
    rows = by_key(auto_map(FORM, STANDARD))

    assert rows[("question", "101")]["crm_field"] == "firstName"
    assert rows[("question", "102")]["crm_field"] == "lastName"
    assert rows[("question", "103")]["crm_field"] == "emailAddress"
    assert rows[("question", "104")]["crm_field"] == "companyName"
    assert rows[("question", "101")]["source_label"] == "First name"


def test_auto_map_assumes_standard_fields_when_the_catalogue_is_empty():
    form = deepcopy(FORM)
    form["questions"].append(question("120", "Work phone", "WORK_PHONE_NUMBER"))

    rows = by_key(auto_map(form, []))

    assert rows[("question", "101")]["crm_field"] == "firstName"
    assert rows[("question", "120")]["crm_field"] == "officePhoneNumber"


def test_auto_map_skips_standard_fields_the_catalogue_lacks():
    form = deepcopy(FORM)
    form["questions"].append(question("120", "Work phone", "WORK_PHONE_NUMBER"))

    rows = by_key(auto_map(form, STANDARD))

    assert rows[("question", "120")]["crm_field"] == ""


def test_auto_map_matches_custom_fields_by_label():
    catalogue = STANDARD + [
        crm_field("Interest_5a0dd86e6e290", "interest"),
        crm_field("Job_Function_5a0dd86e6e291", "JOB FUNCTION"),
        crm_field("utm_source_5a0dd86e6e292", "UTM Source"),
        crm_field("Marketing_5a0dd86e6e293", "I agree to receive marketing-email", data_type="bit"),
        crm_field("Submitted_5a0dd86e6e294", "Submitted at"),
        crm_field("anything_else", "Anything else?", custom=False),  # standard fields don't match by label
    ]

    rows = by_key(auto_map(FORM, catalogue))

    assert rows[("question", "106")]["crm_field"] == "Interest_5a0dd86e6e290"
    assert rows[("question", "105")]["crm_field"] == "Job_Function_5a0dd86e6e291"
    assert rows[("hidden", "utm_source")]["crm_field"] == "utm_source_5a0dd86e6e292"
    assert rows[("consent", "1")]["crm_field"] == "Marketing_5a0dd86e6e293"
    assert rows[("metadata", "submitted_at")]["crm_field"] == "Submitted_5a0dd86e6e294"
    assert rows[("question", "107")]["crm_field"] == ""
    assert rows[("metadata", "linkedin_lead_id")]["crm_field"] == ""


def test_auto_map_default_transforms():
    catalogue = STANDARD + [crm_field("Marketing_5a0", "I agree to receive marketing email", data_type="bit")]

    rows = by_key(auto_map(FORM, STANDARD))
    bit_rows = by_key(auto_map(FORM, catalogue))

    assert rows[("question", "101")]["transform"] == "none"
    assert rows[("question", "106")]["transform"] == "join_comma"
    assert rows[("consent", "1")]["transform"] == "yes_no"
    assert bit_rows[("consent", "1")]["transform"] == "one_zero"
    assert rows[("metadata", "submitted_at")]["transform"] == "datetime_crm"


def test_work_email_used_only_without_email():
    work_email = question("130", "Work email", "WORK_EMAIL")
    without_email = deepcopy(FORM)
    without_email["questions"] = [q for q in FORM["questions"] if q["predefined_field"] != "EMAIL"] + [work_email]
    with_email = deepcopy(FORM)
    with_email["questions"].append(work_email)
    catalogue = STANDARD + [crm_field("Work_Email_5a0", "Work email")]

    assert by_key(auto_map(without_email, catalogue))[("question", "130")]["crm_field"] == "emailAddress"
    rows = by_key(auto_map(with_email, catalogue))
    assert rows[("question", "103")]["crm_field"] == "emailAddress"
    assert rows[("question", "130")]["crm_field"] == "Work_Email_5a0"


def test_auto_map_never_maps_two_sources_to_one_crm_field():
    form = deepcopy(FORM)
    form["questions"].append(question("140", "First name again", "FIRST_NAME"))
    form["hidden_fields"].append({"name": "INTEREST", "value": "x"})
    catalogue = STANDARD + [crm_field("Interest_5a0", "Interest")]

    rows = auto_map(form, catalogue)

    mapped = [r["crm_field"] for r in rows if r["crm_field"]]
    assert len(mapped) == len(set(mapped))
    assert by_key(rows)[("question", "140")]["crm_field"] == ""
    assert by_key(rows)[("question", "106")]["crm_field"] == "Interest_5a0"
    assert by_key(rows)[("hidden", "INTEREST")]["crm_field"] == ""


def test_auto_mapped_form_syncs_a_lead_end_to_end():
    result = apply_mapping(LEAD, auto_map(FORM, STANDARD), {f["system_name"]: f for f in STANDARD}, form=FORM)

    assert result.crm_object == {"firstName": "John", "lastName": "Doe", "emailAddress": "john@example.com"}
    assert result.lead_error is None


# --- suggest_custom_fields --------------------------------------------------------------------------------


def test_suggested_custom_fields_for_unmapped_sources():
    suggestions = suggest_custom_fields(FORM, auto_map(FORM, STANDARD))

    assert suggestions == [
        {"relationship": "lead", "label": "Job function", "isCustom": 1, "dataType": "text", "dataLength": 255},
        {"relationship": "lead", "label": "Interested in", "isCustom": 1, "dataType": "text", "dataLength": 255},
        {"relationship": "lead", "label": "Anything else?", "isCustom": 1, "dataType": "textarea"},
        {"relationship": "lead", "label": "utm_source", "isCustom": 1, "dataType": "text", "dataLength": 255},
        {"relationship": "lead", "label": "I agree to receive marketing email", "isCustom": 1, "dataType": "bit"},
    ]


def test_sources_missing_from_the_mapping_get_a_suggestion():
    form = deepcopy(FORM)
    form["questions"] = [question("150", "Team size", max_length=50)]
    form["hidden_fields"], form["consents"] = [], []

    assert suggest_custom_fields(form, []) == [
        {"relationship": "lead", "label": "Team size", "isCustom": 1, "dataType": "text", "dataLength": 50},
    ]


def test_suggested_labels_are_unique():
    form = deepcopy(FORM)
    form["questions"] = [question("1", "Comments", name="a"), question("2", "comments", name="b")]
    form["hidden_fields"], form["consents"] = [], []

    labels = [s["label"] for s in suggest_custom_fields(form, [])]

    assert labels == ["Comments", "comments 2"]


def test_created_suggestions_are_auto_mapped_next_time():
    suggestions = suggest_custom_fields(FORM, auto_map(FORM, STANDARD))
    created = STANDARD + [crm_field(f"F_{i}", s["label"], data_type=s["dataType"]) for i, s in enumerate(suggestions)]

    rows = auto_map(FORM, created)

    assert suggest_custom_fields(FORM, rows) == []
    assert all(r["crm_field"] for r in rows if r["source_kind"] != "metadata")


def test_long_consent_text_gets_a_short_label_that_still_auto_maps():
    form = deepcopy(FORM)
    form["questions"], form["hidden_fields"] = [], []
    form["consents"] = [{"id": "7", "text": "I agree " + "to be contacted by the organiser " * 10, "required": True,
                         "label": None}]

    [suggestion] = suggest_custom_fields(form, [])
    rows = auto_map(form, [crm_field("Consent_5a0", suggestion["label"], data_type="bit")])

    assert len(suggestion["label"]) <= 100
    assert by_key(rows)[("consent", "7")] | {"source_label": None} == {
        "source_kind": "consent", "source_key": "7", "source_label": None, "crm_field": "Consent_5a0",
        "transform": "one_zero", "enabled": True}


# --- field types the CRM would refuse the whole lead for ---------------------------------------------------


def _typed(system_name, data_type):
    return {system_name: {"system_name": system_name, "label": system_name, "data_type": data_type,
                          "max_length": None, "is_custom": True, "is_required": False, "options": None}}


def test_text_for_a_number_field_is_a_field_error_and_the_lead_still_goes():
    catalogue = _typed("Employees_5a0", "int")
    mappings = [row("question", "101", "Employees_5a0"), row("question", "103", "emailAddress")]
    result = apply_mapping(LEAD, mappings, catalogue)
    assert result.lead_error is None
    assert "Employees_5a0" not in result.crm_object and result.crm_object["emailAddress"] == "john@example.com"
    [outcome] = [o for o in result.outcomes if o["crm_field"] == "Employees_5a0"]
    assert outcome["status"] == "error" and "not a number" in outcome["message"]


def test_numbers_and_yes_no_values_are_sent_in_the_crm_form():
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = " 42 "
    catalogue = {**_typed("Employees_5a0", "int"), **_typed("Optin_5a1", "bit")}
    result = apply_mapping(lead, [row("question", "101", "Employees_5a0"), row("consent", "1", "Optin_5a1")], catalogue)
    assert result.crm_object["Employees_5a0"] == "42"
    assert result.crm_object["Optin_5a1"] in ("1", "0")


def test_lead_score_is_a_standard_number_field():
    result = apply_mapping(LEAD, [row("question", "101", "leadScore")], {})
    [outcome] = result.outcomes
    assert outcome["status"] == "error" and "leadScore" not in result.crm_object


# --- yes/no: one vocabulary for the transforms and the CRM's yes/no fields ------------------------------

YES_SPELLINGS = ["1", "true", "yes", "y", "on", "checked", " Yes ", "TRUE", "Y"]
NO_SPELLINGS = ["0", "false", "no", "n", "off", "unchecked", " No ", "FALSE", "N"]


def _hidden_lead(value):
    lead = deepcopy(LEAD)
    lead["hidden_fields"] = {"utm_source": value}
    return lead


def _sent(value, crm, transform="none", catalogue=None):
    result = apply_mapping(_hidden_lead(value), [row("hidden", "utm_source", crm, transform)], catalogue or {})
    return result.crm_object.get(crm), outcome_of(result, "utm_source")


@pytest.mark.parametrize("word", YES_SPELLINGS)
def test_every_yes_spelling_is_yes_for_the_transforms_and_for_a_yes_no_field(word):
    assert _sent(word, "Text_1", "yes_no")[0] == "Yes"
    assert _sent(word, "Text_1", "one_zero")[0] == "1"
    assert _sent(word, "Optin_5a1", catalogue=_typed("Optin_5a1", "bit"))[0] == "1"


@pytest.mark.parametrize("word", NO_SPELLINGS)
def test_every_no_spelling_is_no_for_the_transforms_and_for_a_yes_no_field(word):
    assert _sent(word, "Text_1", "yes_no")[0] == "No"
    assert _sent(word, "Text_1", "one_zero")[0] == "0"
    assert _sent(word, "Optin_5a1", catalogue=_typed("Optin_5a1", "bit"))[0] == "0"


@pytest.mark.parametrize("word", ["maybe", "yess", "2", "nope"])
def test_a_word_that_is_neither_is_a_field_error_for_both(word):
    for crm, transform, catalogue in (("Text_1", "yes_no", None), ("Optin_5a1", "none", _typed("Optin_5a1", "bit"))):
        value, outcome = _sent(word, crm, transform, catalogue)
        assert value is None and outcome["status"] == "error"


def test_truncation_at_the_boundary_counts_characters_not_bytes():
    lead = deepcopy(LEAD)
    lead["answers"]["101"]["value"] = "é" * 50  # 50 characters, 100 bytes

    result = apply_mapping(lead, [row("question", "101", "firstName")], None)

    assert result.crm_object["firstName"] == "é" * 50 and outcome_of(result, "101")["status"] == "ok"
