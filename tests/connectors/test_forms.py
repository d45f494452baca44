"""Lead form definitions, versioned (Lead Sync API) and legacy (Event Lead Sync API), parsed into our
FormDefinition. Payloads are shaped exactly like the seeds."""

import copy

import pytest

from connectors.exceptions import BadPayload
from connectors.linkedin.forms import parse_lead_form
from connectors.linkedin.urns import owner_urn, parse_urn, parse_versioned_form_urn, versioned_form_urn

VERSIONED_FORM = {
    "id": 987,
    "versionId": 1,
    "created": 1686182358881,
    "lastModified": 1686182358881,
    "name": "Webinar registration",
    "state": "PUBLISHED",
    "owner": {"organization": "urn:li:organization:1"},
    "creationLocale": {"country": "US", "language": "en"},
    "hiddenFields": [{"name": "utm_source", "value": "linkedin"}],
    "content": {
        "headline": {"localized": {"de_DE": "Anmeldung", "en_US": "Join our webinar"}},
        "description": {"localized": {"en_US": "Share your information"}},
        "questions": [
            {
                "questionId": 307234246,
                "name": "firstName",
                "question": {"localized": {"en_US": "First name"}},
                "predefinedField": "FIRST_NAME",
                "responseEditable": True,
                "responseRequired": True,
                "questionDetails": {"textQuestionDetails": {"maxResponseLength": 300}},
            },
            {
                "questionId": 707,
                "name": "interest",
                "label": "Interest",
                "question": {"localized": {"en_US": "Interested in"}},
                "responseRequired": False,
                "questionDetails": {
                    "multipleChoiceQuestionDetails": {
                        "options": [
                            {"id": 0, "text": {"localized": {"en_US": "Option A"}}, "label": "a"},
                            {"id": 1, "text": {"localized": {"en_US": "Option B"}}},
                            {"id": 2, "text": {"localized": {"en_US": "Option C"}}},
                        ],
                        "defaultSelectedOption": 0,
                    }
                },
            },
        ],
        "legalInfo": {
            "legalInfoId": 321,
            "privacyPolicyUrl": "https://example.com/privacy",
            "legalDisclaimer": {"localized": {"en_US": "Disclaimer"}},
            "consents": [
                {
                    "id": 1,
                    "consent": {"localized": {"en_US": "I agree to be contacted via email"}},
                    "checkRequired": False,
                    "label": "email_ok",
                }
            ],
        },
    },
}

# Seed 000: "Get A Lead Sync Form", leadGenFormQuestions batch results, leadGenFormLegalInfo.
LEGACY_FORM = {
    "owner": {"organization": "urn:li:organization:5509810"},
    "hiddenFields": [{"name": "Entity name", "value": "Nimbus 2000"}],
    "versionId": 1,
    "created": {"time": 1610579725356},
    "creationLocale": {"country": "US", "language": "en"},
    "name": "Lead Sync form for Nimbus 2000",
    "lastModified": {"time": 1610579725356},
    "state": "PUBLISHED",
    "id": 6755260984438374400,
    "content": {
        "questions": ["urn:li:leadGenFormQuestion:6404", "urn:li:leadGenFormQuestion:920"],
        "headline": {"localized": {"en_US": "Contact us about Nimbus 2000"}},
        "legalInfo": "urn:li:leadGenFormLegalInfo:4",
    },
}
LEGACY_QUESTIONS = {
    "results": {
        "6404": {
            "owner": {"organization": "urn:li:organization:5645768"},
            "question": {"localized": {"en_US": "First Name"}},
            "responseEditable": False,
            "created": {"time": 1605783789583},
            "creationLocale": {"country": "US", "language": "en"},
            "name": "firstName",
            "questionDetails": {
                "com.linkedin.leadgenform.TextQuestionDetails": {"maxResponseLength": 300}
            },
            "predefinedField": "FIRST_NAME",
            "lastModified": {"time": 1605783789583},
            "id": 6404,
            "responseRequired": True,
        },
        "920": {
            "owner": {"organization": "urn:li:organization:1111"},
            "question": {"localized": {"en_US": "Which broom?"}},
            "responseEditable": False,
            "creationLocale": {"country": "US", "language": "en"},
            "name": "broom",
            "questionDetails": {
                "com.linkedin.leadgenform.MultipleChoiceQuestionDetails": {
                    "options": [
                        {"id": 1, "text": {"localized": {"en_US": "Nimbus"}}},
                        {"id": 3, "text": "Firebolt"},
                    ]
                }
            },
            "id": 920,
            "responseRequired": False,
        },
    },
    "statuses": {},
    "errors": {},
}
LEGACY_LEGAL_INFO = {
    "owner": {"organization": "urn:li:organization:1111"},
    "created": {"time": 1594933148752},
    "creationLocale": {"country": "US", "language": "en"},
    "consents": [
        {
            "consent": {"localized": {"en_US": "this is a consent 1"}},
            "checkRequired": True,
            "id": 1,
        },
        {
            "consent": {"localized": {"en_US": "this is a consent 2"}},
            "checkRequired": False,
            "id": 2,
        },
    ],
    "id": 4,
    "lastModified": {"time": 1588835964},
    "privacyPolicyUrl": "http://www.linkedin.com/privacy",
    "legalDisclaimer": {"localized": {"en_US": "this is a legalDisclaimer"}},
}


def versioned_form(**changes):
    form = copy.deepcopy(VERSIONED_FORM)
    form.update(changes)
    return form


def test_versioned_form_becomes_a_form_definition():
    assert parse_lead_form(VERSIONED_FORM) == {
        "form_id": "987",
        "version": 1,
        "name": "Webinar registration",
        "state": "PUBLISHED",
        "owner_urn": "urn:li:organization:1",
        "locale": "en_US",
        "headline": "Join our webinar",
        "questions": [
            {
                "id": "307234246",
                "name": "firstName",
                "label": None,
                "text": "First name",
                "predefined_field": "FIRST_NAME",
                "type": "text",
                "required": True,
                "max_length": 300,
                "options": [],
            },
            {
                "id": "707",
                "name": "interest",
                "label": "Interest",
                "text": "Interested in",
                "predefined_field": None,
                "type": "multiple_choice",
                "required": False,
                "max_length": None,
                "options": [
                    {"id": "0", "text": "Option A", "label": "a"},
                    {"id": "1", "text": "Option B", "label": None},
                    {"id": "2", "text": "Option C", "label": None},
                ],
            },
        ],
        "hidden_fields": [{"name": "utm_source", "value": "linkedin"}],
        "consents": [
            {
                "id": "1",
                "text": "I agree to be contacted via email",
                "required": False,
                "label": "email_ok",
            }
        ],
        "privacy_policy_url": "https://example.com/privacy",
    }


def test_legacy_form_resolves_question_and_legal_info_urns():
    form = parse_lead_form(
        LEGACY_FORM, questions_by_urn=LEGACY_QUESTIONS["results"], legal_info=LEGACY_LEGAL_INFO
    )

    assert form["form_id"] == "6755260984438374400"
    assert (form["version"], form["owner_urn"]) == (1, "urn:li:organization:5509810")
    assert form["questions"] == [
        {
            "id": "6404",
            "name": "firstName",
            "label": None,
            "text": "First Name",
            "predefined_field": "FIRST_NAME",
            "type": "text",
            "required": True,
            "max_length": 300,
            "options": [],
        },
        {
            "id": "920",
            "name": "broom",
            "label": None,
            "text": "Which broom?",
            "predefined_field": None,
            "type": "multiple_choice",
            "required": False,
            "max_length": None,
            "options": [
                {"id": "1", "text": "Nimbus", "label": None},
                {"id": "3", "text": "Firebolt", "label": None},
            ],
        },
    ]
    assert form["hidden_fields"] == [{"name": "Entity name", "value": "Nimbus 2000"}]
    assert form["consents"] == [
        {"id": "1", "text": "this is a consent 1", "required": True, "label": None},
        {"id": "2", "text": "this is a consent 2", "required": False, "label": None},
    ]
    assert form["privacy_policy_url"] == "http://www.linkedin.com/privacy"


def test_legacy_questions_may_be_keyed_by_urn():
    by_urn = {f"urn:li:leadGenFormQuestion:{k}": v for k, v in LEGACY_QUESTIONS["results"].items()}

    form = parse_lead_form(LEGACY_FORM, questions_by_urn=by_urn, legal_info=LEGACY_LEGAL_INFO)

    assert [q["id"] for q in form["questions"]] == ["6404", "920"]


def test_unresolved_legacy_question_is_a_clear_error():
    with pytest.raises(BadPayload, match=r"urn:li:leadGenFormQuestion:920 was not resolved"):
        parse_lead_form(
            LEGACY_FORM,
            questions_by_urn={"6404": LEGACY_QUESTIONS["results"]["6404"]},
            legal_info=LEGACY_LEGAL_INFO,
        )


def test_unresolved_legacy_legal_info_is_a_clear_error():
    with pytest.raises(
        BadPayload, match=r"legal info 'urn:li:leadGenFormLegalInfo:4' was not resolved"
    ):
        parse_lead_form(LEGACY_FORM, questions_by_urn=LEGACY_QUESTIONS["results"])


@pytest.mark.parametrize(
    "details_key", ["dateQuestionDetails", "com.linkedin.leadgenform.DateQuestionDetails"]
)
def test_unknown_question_type_names_the_question(details_key):
    form = versioned_form()
    form["content"]["questions"].append(
        {
            "questionId": 55,
            "name": "birthday",
            "question": {"localized": {"en_US": "Birthday"}},
            "questionDetails": {details_key: {}},
        }
    )

    with pytest.raises(
        BadPayload, match=r"form 987: question 55 \(birthday\) has 'dateQuestionDetails'"
    ):
        parse_lead_form(form)


def test_question_without_details_is_a_clear_error():
    form = versioned_form()
    del form["content"]["questions"][0]["questionDetails"]

    with pytest.raises(
        BadPayload, match=r"question 307234246 \(firstName\) has no questionDetails"
    ):
        parse_lead_form(form)


@pytest.mark.parametrize("form", [versioned_form(id=None), {"name": "no id"}, [], "987"])
def test_form_without_id_is_rejected(form):
    if isinstance(form, dict):
        form.pop("id", None)
    with pytest.raises(BadPayload, match="lead form"):
        parse_lead_form(form)


def test_text_falls_back_to_first_locale_then_plain_strings():
    form = versioned_form(creationLocale={"country": "ES", "language": "es"})
    form["content"]["headline"] = {"localized": {"fr_FR": "Inscription", "de_DE": "Anmeldung"}}
    form["content"]["questions"][0]["question"] = "First name"

    parsed = parse_lead_form(form)

    assert parsed["locale"] == "es_ES"
    assert parsed["headline"] == "Inscription"
    assert parsed["questions"][0]["text"] == "First name"


def test_text_in_the_forms_locale_wins():
    form = versioned_form(creationLocale={"country": "DE", "language": "de"})

    assert parse_lead_form(form)["headline"] == "Anmeldung"


def test_form_without_creation_locale_still_reads_texts():
    form = versioned_form()
    del form["creationLocale"]

    parsed = parse_lead_form(form)

    assert parsed["locale"] is None
    assert parsed["headline"] == "Anmeldung"


def test_unicode_texts_are_kept_untouched():
    name = "Zoe\u0308 Ångström-Łukasiewicz 李小龙"  # decomposed ë must stay decomposed
    form = versioned_form()
    form["content"]["questions"][1]["questionDetails"]["multipleChoiceQuestionDetails"]["options"][
        0
    ]["text"] = {"localized": {"en_US": name}}

    assert parse_lead_form(form)["questions"][1]["options"][0]["text"] == name


def test_versioned_form_urn_round_trips():
    urn = versioned_form_urn("987", 1)

    assert urn == "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,1)"
    assert parse_versioned_form_urn(urn) == ("987", 1)


@pytest.mark.parametrize(
    "urn, expected",
    [
        ("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1, 1)", ("1", 1)),  # LinkedIn's webhook example
        ("urn:li:versionedLeadGenForm:( urn:li:leadGenForm:513 , 23 )", ("513", 23)),
        ("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:818,1)", ("818", 1)),
        ("urn:li:leadGenForm:987", ("987", None)),
    ],
)
def test_versioned_form_urn_parsing_tolerates_spaces_and_plain_form_urns(urn, expected):
    assert parse_versioned_form_urn(urn) == expected


@pytest.mark.parametrize(
    "urn",
    [
        "urn:li:leadGenFormQuestion:1",
        "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1)",
        "",
        None,
    ],
)
def test_other_urns_are_not_form_urns(urn):
    with pytest.raises(BadPayload, match="not a lead form URN"):
        parse_versioned_form_urn(urn)


def test_parse_urn_splits_kind_and_id():
    assert parse_urn("urn:li:leadGenFormQuestion:1") == ("leadGenFormQuestion", "1")
    assert parse_urn("urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:321,4)") == (
        "leadGenFormConsent",
        "(urn:li:leadGenFormLegalInfo:321,4)",
    )
    with pytest.raises(BadPayload, match="not a LinkedIn URN"):
        parse_urn("leadGenFormQuestion:1")


@pytest.mark.parametrize(
    "owner, expected",
    [
        ({"organization": "urn:li:organization:1"}, "urn:li:organization:1"),
        (
            {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
            "urn:li:sponsoredAccount:522529623",
        ),
        (None, None),
    ],
)
def test_owner_urn_reads_the_owner_union(owner, expected):
    assert owner_urn(owner) == expected


@pytest.mark.parametrize("owner", [{}, {"organization": 1}, {"a": "urn:li:x:1", "b": "urn:li:y:2"}])
def test_malformed_owner_union_is_rejected(owner):
    with pytest.raises(BadPayload, match="owner"):
        owner_urn(owner)


# --- found by the hostile-input suite (tests/hostile/): each crashed later, in the mapping engine ---

def _first_question(**changes):
    form = copy.deepcopy(VERSIONED_FORM)
    question = form["content"]["questions"][0]
    for key, value in changes.items():
        if key == "maxResponseLength":
            question["questionDetails"]["textQuestionDetails"][key] = value
        else:
            question[key] = value
    return form


@pytest.mark.parametrize("changes, says", [
    # auto_map looked it up in a dict: TypeError, unhashable type.
    ({"predefinedField": {"FIRST_NAME": 1}}, "predefinedField is not a field name"),
    # custom_field_suggestions compared it with 255: TypeError.
    ({"maxResponseLength": "300"}, "maxResponseLength is not a number"),
    ({"maxResponseLength": {"max": 1}}, "maxResponseLength is not a number"),
    ({"maxResponseLength": -1}, "maxResponseLength is not a number"),
])
def test_a_question_whose_fields_have_the_wrong_type_is_a_bad_payload(changes, says):
    with pytest.raises(BadPayload, match=f"question 307234246 .*{says}"):
        parse_lead_form(_first_question(**changes))


@pytest.mark.parametrize("value", [float("nan"), "\ud800", "a\x00b", pytest.param(10**5000, id="a 5001-digit integer")])
def test_a_form_holding_what_no_json_column_keeps_is_refused(value):
    with pytest.raises(BadPayload, match="lead form: the JSON holds"):
        parse_lead_form({**VERSIONED_FORM, "name": value})
    with pytest.raises(BadPayload, match="lead form legal info: the JSON holds"):
        parse_lead_form(LEGACY_FORM, questions_by_urn=LEGACY_QUESTIONS, legal_info={"consents": [{"id": 1, "consent": value}]})
