"""The transforms that take an option (a constant, a separator, a phone number's default region, a
date pattern), the date formats, and what `transform_problems` refuses before any lead meets a row:
an option missing or malformed, a transform whose result the CRM field cannot take."""

from copy import deepcopy

import pytest

from mappings.engine import TRANSFORM_OPTIONS, TRANSFORMS, apply_mapping, transform_problems

LEAD = {
    "id": "lead-1", "lead_type": "EVENT", "owner_urn": "urn:li:organization:1", "form_id": "987", "form_version": 1,
    "submitted_at": 1686182358881,  # 2023-06-07 23:59:18.881 UTC
    "test_lead": False,
    "answers": {"email": {"value": "ana@example.com"}, "phone": {"value": "+1 (415) 555-0123"},
                "interest": {"value": ["Option A", "Option C"]}},
    "hidden_fields": {}, "consents": {},
}


def row(kind, key, crm, transform="none", option="", enabled=True):
    return {"source_kind": kind, "source_key": key, "source_label": key, "crm_field": crm, "transform": transform,
            "transform_option": option, "enabled": enabled}


def typed(system_name, data_type, **extra):
    return {"system_name": system_name, "label": system_name, "data_type": data_type, "max_length": None,
            "is_custom": True, "is_required": False, "options": None, **extra}


CATALOGUE = {info["system_name"]: info for info in (
    typed("Notes_1", "text"), typed("Employees_1", "int"), typed("Optin_1", "bit"), typed("Short_1", "text", max_length=4),
    typed("Plan_1", "picklist", options=["Gold", "Silver"]),
)}
EMAIL = row("question", "email", "emailAddress")


def sent(lead, mapping_row, catalogue=None):
    result = apply_mapping(lead, [mapping_row, EMAIL], catalogue or {})
    return result.crm_object.get(mapping_row["crm_field"]), result.outcomes[0], result


def hidden(value):
    lead = deepcopy(LEAD)
    lead["hidden_fields"]["x"] = value
    return lead


def test_every_option_taking_transform_is_a_transform():
    assert set(TRANSFORM_OPTIONS) <= set(TRANSFORMS)


# --- a constant ---------------------------------------------------------------------------------------------


def test_a_constant_is_sent_whatever_the_lead_says_even_from_an_unanswered_source():
    value, outcome, result = sent(LEAD, row("question", "never_answered", "Notes_1", "constant", "Webinar 2026"))
    assert value == "Webinar 2026" and outcome["status"] == "ok" and result.lead_error is None


def test_a_constant_may_ride_on_a_metadata_row_and_keeps_its_spacing():
    value, _, _ = sent(LEAD, row("metadata", "campaign_urn", "Notes_1", "constant", " Spring  push "))
    assert value == " Spring  push "


def test_a_constant_still_fits_its_crm_field_when_sent():
    value, outcome, _ = sent(LEAD, row("metadata", "lead_type", "Plan_1", "constant", "gold"), CATALOGUE)
    assert value == "Gold" and outcome["status"] == "ok"  # sent in the CRM's spelling of the option


# --- join with a separator of one's choice ------------------------------------------------------------------


@pytest.mark.parametrize("separator, expected", [(" | ", "Option A | Option C"), ("/", "Option A/Option C"),
                                                 (" ", "Option A Option C")])
def test_options_are_joined_with_the_separator_typed(separator, expected):
    assert sent(LEAD, row("question", "interest", "Notes_1", "join", separator))[0] == expected


def test_a_single_answer_is_left_as_it_is_by_join():
    assert sent(hidden("only one"), row("hidden", "x", "Notes_1", "join", " | "))[0] == "only one"


# --- phone numbers as E.164 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed_number, region, expected", [
    ("+1 (415) 555-0123", "", "+14155550123"),
    ("+44 20 7946 0958", "US", "+442079460958"),  # a + number ignores the default region
    ("020 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", "gb", "+442079460958"),
    ("(415) 555-0123", "US", "+14155550123"),
    ("０２０ ７９４６ ０９５８", "GB", "+442079460958"),  # full-width digits
])
def test_phone_numbers_are_normalised_to_e164(typed_number, region, expected):
    value, outcome, _ = sent(hidden(typed_number), row("hidden", "x", "phoneNumber", "phone_e164", region))
    assert (value, outcome["status"]) == (expected, "ok")


@pytest.mark.parametrize("typed_number, region, says", [
    ("020 7946 0958", "", "'020 7946 0958' has no country code (+…) and the mapping gives no default region"),
    ("+1 555", "", "'+1 555' is not a valid phone number"),
    ("12", "GB", "'12' is not a valid phone number in GB"),
    ("call me", "US", "'call me' is not a phone number: it is not a number"),
    ("+999 1234 5678", "", "'+999 1234 5678' is not a phone number: its country code is unknown"),
])
def test_a_phone_number_that_is_not_valid_is_a_field_error_with_a_sentence_and_the_lead_still_goes(
        typed_number, region, says):
    value, outcome, result = sent(hidden(typed_number), row("hidden", "x", "phoneNumber", "phone_e164", region))
    assert value is None and outcome["status"] == "error" and outcome["message"] == says
    assert result.lead_error is None and result.crm_object == {"emailAddress": "ana@example.com"}


# --- dates --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transform, option, expected", [
    ("date_iso", "", "2023-06-07T23:59:18Z"),
    ("datetime_crm", "", "2023-06-07 23:59:18"),
    ("date_ymd", "", "2023-06-07"),
    ("date_us", "", "06/07/2023"),
    ("date_eu", "", "07/06/2023"),
    ("date_pattern", "%d.%m.%Y %H:%M", "07.06.2023 23:59"),
    ("date_pattern", "week %V of %G (100%%)", "week 23 of 2023 (100%)"),
])
def test_linkedin_times_are_written_in_the_format_chosen(transform, option, expected):
    assert sent(LEAD, row("metadata", "submitted_at", "Notes_1", transform, option))[0] == expected


# --- an option stored past the editors (by hand in the database): a field error, never a crash ----------------


@pytest.mark.parametrize("transform, option, says", [
    ("join", "", "needs a separator"),
    ("constant", "", "needs the value to send"),
    ("phone_e164", "Narnia", "'Narnia' is not a region phone numbers are known for"),
    ("date_pattern", "%Q-%Y", "%Q in '%Q-%Y' is not a strftime directive"),
])
def test_a_malformed_stored_option_is_a_field_error_on_that_field_only(transform, option, says):
    value, outcome, result = sent(LEAD, row("question", "phone", "Notes_1", transform, option))
    assert value is None and outcome["status"] == "error" and says in outcome["message"]
    assert result.crm_object == {"emailAddress": "ana@example.com"}


def test_an_option_a_transform_does_not_take_is_ignored_when_sending():
    assert sent(hidden("MiXed"), row("hidden", "x", "Notes_1", "lower", "stray"))[0] == "mixed"


# --- transform_problems: what the editors and the import refuse -----------------------------------------------


@pytest.mark.parametrize("transform, option, crm, column, says", [
    ("yes_no", "", "Employees_1", "transform", "“Yes / No” does not fit Employees_1, a number field"),
    ("yes_no", "", "leadScore", "transform", "does not fit leadScore, a number field"),  # standard, from the schema
    ("date_ymd", "", "Optin_1", "transform", "“ISO date, UTC (2026-01-31)” does not fit Optin_1, a yes/no field"),
    ("date_pattern", "%Y", "Employees_1", "transform", "does not fit Employees_1, a number field"),
    ("phone_e164", "US", "Employees_1", "transform", "“Phone number, E.164 (+14155550123)” does not fit Employees_1"),
    ("join", ", ", "Employees_1", "transform", "does not fit Employees_1, a number field"),
    ("join_comma", "", "Optin_1", "transform", "does not fit Optin_1, a yes/no field"),
    ("digits", "", "Optin_1", "transform", "does not fit Optin_1, a yes/no field"),
    ("no_such", "", "Notes_1", "transform", "'no_such' is not a transform LeadSync knows."),
    ("join", "", "Notes_1", "transform_option", "“Options joined with a separator you type” needs a separator, e.g. “ | ”."),
    ("phone_e164", "XX", "phoneNumber", "transform_option",
     "'XX' is not a region phone numbers are known for: give a two-letter country code such as US, GB or DE."),
    ("phone_e164", "United States", "phoneNumber", "transform_option", "'United States' is not a region"),
    ("date_pattern", "", "Notes_1", "transform_option", "needs a strftime pattern, e.g. %d.%m.%Y %H:%M."),
    ("date_pattern", "%d/%m/%Q", "Notes_1", "transform_option", "%Q in '%d/%m/%Q' is not a strftime directive"),
    ("date_pattern", "on %d %", "Notes_1", "transform_option", "ends with a lone %"),
    ("date_pattern", "today 100%%", "Notes_1", "transform_option", "has no directive such as %Y"),
    ("constant", "", "Notes_1", "transform_option", "“A constant you type (whatever the lead says)” needs the value"),
    ("constant", "   ", "Notes_1", "transform_option", "a constant of spaces only would send nothing"),
    ("constant", "many", "Employees_1", "transform_option",
     "the constant cannot be sent: Employees_1 is a number field and 'many' is not a number."),
    ("constant", "maybe", "Optin_1", "transform_option", "Optin_1 is a yes/no field and 'maybe' is neither"),
    ("constant", "Platinum", "Plan_1", "transform_option", "'Platinum' is not an option of Plan_1 (Gold, Silver)"),
    ("constant", "hot", "leadStatus", "transform_option", "'hot' is not an option of leadStatus"),
    ("constant", "toolong", "Short_1", "transform_option",
     "the constant would be truncated from 7 to 4 characters: shorten it."),
    ("constant", "all@example.com", "emailAddress", "transform",
     "emailAddress identifies the lead in the CRM: a constant would make every lead the same CRM lead."),
    ("upper", "stray", "Notes_1", "transform_option", "“UPPER CASE” takes no option: empty the option ('stray')."),
])
def test_a_transform_that_cannot_work_is_refused_with_a_sentence(transform, option, crm, column, says):
    problems = transform_problems(row("question", "q", crm, transform, option), CATALOGUE)
    assert list(problems) == [column] and says in problems[column], problems


@pytest.mark.parametrize("transform, option, crm", [
    ("yes_no", "", "Optin_1"), ("yes_no", "", "Notes_1"), ("one_zero", "", "Employees_1"), ("one_zero", "", "Optin_1"),
    ("digits", "", "Employees_1"), ("phone_e164", "", "phoneNumber"), ("phone_e164", "de", "mobilePhoneNumber"),
    ("join", " ", "Notes_1"), ("date_pattern", "%d.%m.%Y", "Notes_1"), ("constant", "42", "Employees_1"),
    ("constant", "yes", "Optin_1"), ("constant", "Gold", "Plan_1"), ("none", "", "Employees_1"),
    ("trim", "", "Optin_1"), ("datetime_crm", "", "Notes_1"),
])
def test_a_transform_that_fits_its_field_is_accepted(transform, option, crm):
    assert transform_problems(row("question", "q", crm, transform, option), CATALOGUE) == {}


def test_only_an_enabled_mapped_row_is_held_to_its_fields_type_but_every_option_must_be_sound():
    assert transform_problems(row("question", "q", "Employees_1", "yes_no", enabled=False), CATALOGUE) == {}
    assert transform_problems(row("question", "q", "", "yes_no"), CATALOGUE) == {}
    assert "transform_option" in transform_problems(row("question", "q", "", "join", "", enabled=False), CATALOGUE)


def test_transform_problems_take_the_catalogue_as_a_list_or_none():
    bad = row("question", "q", "Employees_1", "yes_no")
    assert transform_problems(bad, list(CATALOGUE.values())) == transform_problems(bad, CATALOGUE)
    assert transform_problems(bad, None) == {}  # unknown custom field: a text field as far as anyone knows
