"""leadFormResponses elements, in all three answer shapes LinkedIn has served, normalized into
our NormalizedLead. Payloads are shaped exactly like the seeds and the reference page."""

import copy
import json

import pytest

from connectors.exceptions import BadPayload
from connectors.linkedin.forms import parse_lead_form
from connectors.linkedin.responses import normalize_response


def lead_form(version, options, *, hidden_value="linkedin"):
    """A versioned leadForms element (LinkedIn's Lead Sync schema); option texts differ between versions."""
    return {
        "id": 987,
        "versionId": version,
        "name": "Webinar registration",
        "state": "PUBLISHED",
        "owner": {"organization": "urn:li:organization:1"},
        "creationLocale": {"country": "US", "language": "en"},
        "hiddenFields": [{"name": "utm_source", "value": hidden_value}],
        "content": {
            "headline": {"localized": {"en_US": "Join our webinar"}},
            "questions": [
                {
                    "questionId": 307234246,
                    "name": "firstName",
                    "question": {"localized": {"en_US": "First name"}},
                    "predefinedField": "FIRST_NAME",
                    "questionDetails": {"textQuestionDetails": {"maxResponseLength": 300}},
                },
                {
                    "questionId": 707,
                    "name": "interest",
                    "question": {"localized": {"en_US": "Interested in"}},
                    "responseRequired": False,
                    "questionDetails": {
                        "multipleChoiceQuestionDetails": {
                            "options": [
                                {"id": option_id, "text": {"localized": {"en_US": text}}}
                                for option_id, text in options.items()
                            ]
                        }
                    },
                },
            ],
            "legalInfo": {
                "legalInfoId": 321,
                "consents": [
                    {
                        "id": 1,
                        "consent": {"localized": {"en_US": "I agree…"}},
                        "checkRequired": False,
                    }
                ],
            },
        },
    }


FORM_V1 = parse_lead_form(lead_form(1, {0: "Option A", 1: "Option B", 2: "Option C"}))
FORM_V2 = parse_lead_form(lead_form(2, {0: "Webinars", 2: "Case studies", 3: "Demos"}))


def lookup_for(*forms):
    """The lookup contract: exact version, or the newest known one when asked for version None."""

    def lookup(form_id, version):
        same_form = [f for f in forms if f["form_id"] == form_id]
        if version is None:
            return max(same_form, key=lambda f: f["version"], default=None)
        return next((f for f in same_form if f["version"] == version), None)

    return lookup


LOOKUP = lookup_for(FORM_V1, FORM_V2)

# Shape 1: LinkedIn's Postman collection.
POSTMAN_LEAD = {
    "id": "aaaabbbb-0000-cccc-1111-dddd2222eeee-5",
    "leadType": "EVENT",
    "owner": {"organization": "urn:li:organization:1"},
    "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,1)",
    "submitter": "urn:li:person:MpGcnvaU_p",
    "submittedAt": 1686182358881,
    "testLead": False,
    "associatedEntity": {"event": "urn:li:event:789"},
    "leadMetadata": {"sponsoredLeadMetadata": {"campaign": "urn:li:sponsoredCampaign:367378525"}},
    "formResponse": {
        "answers": [
            {"questionId": 307234246, "answerDetails": {"textQuestionAnswer": {"answer": "John"}}},
            {"questionId": 707, "answerDetails": {"multipleChoiceAnswer": {"options": [0, 2]}}},
        ],
        "consentResponses": [{"consentId": 1, "accepted": True}],
    },
}

# Shape 2: the versioned Lead Sync API's schema (name + accepted).
SEED_LEAD = {
    **POSTMAN_LEAD,
    "formResponse": {
        "answers": [
            {
                "questionId": 307234246,
                "name": "firstName",
                "accepted": {"textQuestionAnswer": {"answer": "John"}},
            },
            {
                "questionId": 707,
                "name": "interest",
                "accepted": {"multipleChoiceAnswer": {"options": [0, 2]}},
            },
        ],
        "consentResponses": [{"consentId": 1, "accepted": True}],
    },
}

# Shape 3: legacy eventFormResponses (the legacy Event Lead Sync API).
LEGACY_LEAD = {
    "owner": {"organization": "urn:li:organization:1"},
    "submitter": "urn:li:person:MpGcnvaU_p",
    "form": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,1)",
    "leadType": "EVENT",
    "leadMetadata": {
        "com.linkedin.leadgenform.SponsoredLeadMetadata": {
            "campaign": "urn:li:sponsoredCampaign:367378525"
        }
    },
    "id": "aaaabbbb-0000-cccc-1111-dddd2222eeee-5",
    "submittedAt": 1686182358881,
    "responseId": "±÷ñô\x05ñL.±?\x91öb-IK",
    "formResponse": {
        "consentResponses": [
            {
                "consent": "urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:321,1)",
                "accepted": True,
            }
        ],
        "answers": [
            {
                "question": "urn:li:leadGenFormQuestion:307234246",
                "answerDetails": {
                    "com.linkedin.leadgenform.TextQuestionAnswer": {"answer": "John"}
                },
            },
            {
                "question": "urn:li:leadGenFormQuestion:707",
                "answerDetails": {
                    "com.linkedin.leadgenform.MultipleChoiceAnswer": {"options": [0, 2]}
                },
            },
        ],
    },
    "testLead": False,
    "associatedEntity": {"event": "urn:li:event:789"},
}

EXPECTED = {
    "id": "aaaabbbb-0000-cccc-1111-dddd2222eeee-5",
    "lead_type": "EVENT",
    "owner_urn": "urn:li:organization:1",
    "form_id": "987",
    "form_version": 1,
    "submitted_at": 1686182358881,
    "test_lead": False,
    "submitter_urn": "urn:li:person:MpGcnvaU_p",
    "associated_entity": {"kind": "event", "urn": "urn:li:event:789"},
    "campaign_urn": "urn:li:sponsoredCampaign:367378525",
    "answers": {
        "307234246": {
            "name": "firstName",
            "text": "First name",
            "predefined_field": "FIRST_NAME",
            "type": "text",
            "value": "John",
            "option_ids": [],
        },
        "707": {
            "name": "interest",
            "text": "Interested in",
            "predefined_field": None,
            "type": "multiple_choice",
            "value": ["Option A", "Option C"],
            "option_ids": ["0", "2"],
        },
    },
    "consents": {"1": {"text": "I agree…", "accepted": True}},
    "hidden_fields": {"utm_source": "linkedin"},
    "errors": [],
}


def lead(base=POSTMAN_LEAD, **changes):
    element = copy.deepcopy(base)
    element.update(changes)
    return element


def answers_of(element):
    return element["formResponse"]["answers"]


@pytest.mark.parametrize(
    "element", [POSTMAN_LEAD, SEED_LEAD, LEGACY_LEAD], ids=["postman", "seed", "legacy"]
)
def test_all_three_answer_shapes_give_the_same_lead(element):
    assert normalize_response(element, LOOKUP) == EXPECTED


@pytest.mark.parametrize(
    "version, texts", [(1, ["Option A", "Option C"]), (2, ["Webinars", "Case studies"])]
)
def test_option_ids_resolve_through_the_version_the_lead_answered(version, texts):
    element = lead(
        versionedLeadGenFormUrn=f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,{version})"
    )

    normalized = normalize_response(element, LOOKUP)

    assert normalized["form_version"] == version
    assert normalized["answers"]["707"]["value"] == texts
    assert normalized["answers"]["707"]["option_ids"] == ["0", "2"]
    assert normalized["errors"] == []


def test_unknown_version_is_read_against_the_newest_known_version():
    element = lead(
        versionedLeadGenFormUrn="urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987, 5)"
    )

    normalized = normalize_response(element, LOOKUP)

    assert normalized["form_version"] == 5
    assert normalized["answers"]["707"]["value"] == ["Webinars", "Case studies"]
    assert normalized["errors"] == []


def test_lead_naming_a_plain_form_urn_is_read_against_the_newest_version():
    normalized = normalize_response(lead(LEGACY_LEAD, form="urn:li:leadGenForm:987"), LOOKUP)

    assert (normalized["form_id"], normalized["form_version"]) == ("987", None)
    assert normalized["answers"]["707"]["value"] == ["Webinars", "Case studies"]


def test_form_object_names_form_and_version():
    element = lead()
    del element["versionedLeadGenFormUrn"]
    element["form"] = {"id": 987, "versionId": 2}

    normalized = normalize_response(element, LOOKUP)

    assert (normalized["form_id"], normalized["form_version"]) == ("987", 2)
    assert normalized["answers"]["707"]["value"] == ["Webinars", "Case studies"]


def test_unknown_option_id_is_recorded_not_raised():
    element = lead()
    answers_of(element)[1]["answerDetails"]["multipleChoiceAnswer"]["options"] = [0, 9]

    normalized = normalize_response(element, LOOKUP)

    assert normalized["answers"]["707"]["value"] == ["Option A", "9"]
    assert normalized["answers"]["707"]["option_ids"] == ["0", "9"]
    assert normalized["errors"] == [
        {"source": "question:707", "message": "option 9 is not an option of form 987 version 1"}
    ]


def test_unknown_form_keeps_option_ids_and_records_why():
    normalized = normalize_response(lead(), lookup_for())

    assert normalized["answers"]["707"]["value"] == ["0", "2"]
    assert normalized["answers"]["307234246"]["value"] == "John"
    assert normalized["answers"]["307234246"]["name"] is None
    assert normalized["hidden_fields"] == {}
    assert normalized["consents"] == {"1": {"text": None, "accepted": True}}
    assert [e["source"] for e in normalized["errors"]] == ["form", "question:707"]
    assert "form 987" in normalized["errors"][0]["message"]


def test_answer_to_a_question_not_on_the_form_is_kept_with_its_name():
    element = lead(SEED_LEAD)
    answers_of(element).append(
        {
            "questionId": 808,
            "name": "jobTitle",
            "accepted": {"textQuestionAnswer": {"answer": "CTO"}},
        }
    )

    normalized = normalize_response(element, LOOKUP)

    assert normalized["answers"]["808"] == {
        "name": "jobTitle",
        "text": None,
        "predefined_field": None,
        "type": "text",
        "value": "CTO",
        "option_ids": [],
    }
    assert normalized["errors"] == [
        {
            "source": "question:808",
            "message": "question 808 is not on form 987 version 1; kept as answered",
        }
    ]


def test_legacy_consent_urn_gives_the_consent_id():
    element = lead(LEGACY_LEAD)
    element["formResponse"]["consentResponses"] = [
        {
            "consent": "urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:321,4)",
            "accepted": True,
        }
    ]

    normalized = normalize_response(element, LOOKUP)

    assert normalized["consents"] == {"4": {"text": None, "accepted": True}}
    assert normalized["errors"] == [
        {"source": "consent:4", "message": "consent 4 is not on form 987 version 1"}
    ]


def test_versioned_consent_text_is_kept_when_the_form_does_not_know_the_consent():
    element = lead()
    element["formResponse"]["consentResponses"] = [
        {"consentId": 2, "consent": "Send me offers", "accepted": False}
    ]

    normalized = normalize_response(element, lookup_for())

    assert normalized["consents"] == {"2": {"text": "Send me offers", "accepted": False}}


def test_legacy_projection_lead_from_seed_000():
    """The seed's `form~(hiddenFields)` and `question~(name)` projection sample, verbatim."""
    element = {
        "id": "19b5348a-f045-48bd-a1f5-990913b41b94-5",
        "owner": {"organization": "urn:li:organization:5521643"},
        "associatedEntity": {"standardizedProduct": "urn:li:standardizedProduct:10223"},
        "form": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:818,1)",
        "leadType": "EVENT",
        "submittedAt": 200,
        "testLead": False,
        "formResponse": {
            "answers": [
                {
                    "answerDetails": {
                        "com.linkedin.leadgenform.TextQuestionAnswer": {"answer": "First Name"}
                    },
                    "question": "urn:li:leadGenFormQuestion:123",
                    "question~": {"name": "firstName"},
                },
                {
                    "answerDetails": {
                        "com.linkedin.leadgenform.TextQuestionAnswer": {"answer": "Last Name"}
                    },
                    "question": "urn:li:leadGenFormQuestion:345",
                    "question~": {"name": "lastName"},
                },
            ],
            "consentResponses": [
                {
                    "consent": "urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:321,4)",
                    "accepted": True,
                }
            ],
        },
        "form~": {
            "hiddenFields": [
                {"name": "myHiddenField1", "value": "LSNR-1234-LI-MKTG"},
                {"name": "myHiddenField2", "value": "LSNR-4567-LI-MKTG"},
            ]
        },
    }
    form_818 = {
        **FORM_V1,
        "form_id": "818",
        "hidden_fields": [
            {"name": "myHiddenField1", "value": "{{CAMPAIGN_ID}}"},
            {"name": "static", "value": "kept"},
        ],
    }

    normalized = normalize_response(element, lookup_for(form_818))

    assert normalized["submitter_urn"] is None
    assert normalized["associated_entity"] == {
        "kind": "standardizedProduct",
        "urn": "urn:li:standardizedProduct:10223",
    }
    assert {k: a["name"] for k, a in normalized["answers"].items()} == {
        "123": "firstName",
        "345": "lastName",
    }
    assert normalized["answers"]["345"]["value"] == "Last Name"
    assert normalized["consents"] == {"4": {"text": None, "accepted": True}}
    assert normalized["hidden_fields"] == {
        "myHiddenField1": "LSNR-1234-LI-MKTG",
        "myHiddenField2": "LSNR-4567-LI-MKTG",
        "static": "kept",
    }


def test_legacy_associated_creative_is_named_by_its_urn():
    element = lead(
        LEGACY_LEAD, associatedEntity={"associatedCreative": "urn:li:sponsoredCreative:100"}
    )

    normalized = normalize_response(element, LOOKUP)

    assert normalized["associated_entity"] == {
        "kind": "sponsoredCreative",
        "urn": "urn:li:sponsoredCreative:100",
    }


def test_guest_lead_has_no_submitter():
    element = lead()
    del element["submitter"]

    normalized = normalize_response(element, LOOKUP)

    assert normalized["submitter_urn"] is None
    assert normalized["answers"] == EXPECTED["answers"]
    assert normalized["errors"] == []


def test_test_lead_is_flagged_and_may_lack_metadata():
    element = lead(
        testLead=True,
        leadType="SPONSORED",
        owner={"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
    )
    del element["leadMetadata"], element["associatedEntity"]

    normalized = normalize_response(element, LOOKUP)

    assert normalized["test_lead"] is True
    assert normalized["owner_urn"] == "urn:li:sponsoredAccount:522529623"
    assert (normalized["campaign_urn"], normalized["associated_entity"]) == (None, None)
    assert normalized["errors"] == []


def test_test_lead_defaults_to_false():
    element = lead()
    del element["testLead"]

    assert normalize_response(element, LOOKUP)["test_lead"] is False


def test_unicode_round_trips_untouched():
    names = ["Zoë Ångström-Łukasiewicz", "李小龙", "Zoe\u0308"]  # the last one decomposed
    element = lead()
    element["formResponse"]["answers"] = [
        {"questionId": 307234246 + i, "answerDetails": {"textQuestionAnswer": {"answer": name}}}
        for i, name in enumerate(names)
    ]
    element["form~"] = {"hiddenFields": [{"name": "städte", "value": "Łódź"}]}

    normalized = normalize_response(json.loads(json.dumps(element)), LOOKUP)
    round_tripped = json.loads(json.dumps(normalized, ensure_ascii=False))

    assert [a["value"] for a in round_tripped["answers"].values()] == names
    assert round_tripped["hidden_fields"]["städte"] == "Łódź"
    assert round_tripped == normalized


@pytest.mark.parametrize(
    "element, problem",
    [
        ([], "lead is not an object"),
        (lead(id=None), "lead has no id"),
        (lead(id=""), "lead has no id"),
        (lead(submittedAt=None), "submittedAt is missing or not a number"),
        (lead(submittedAt="1686182358881"), "submittedAt is missing or not a number"),
        (lead(submittedAt=True), "submittedAt is missing or not a number"),
        (lead(formResponse=None), "formResponse is missing or not an object"),
        (lead(formResponse=[{"questionId": 1}]), "formResponse is missing or not an object"),
    ],
)
def test_unusable_lead_raises_without_leaking_personal_data(element, problem):
    if isinstance(element, dict) and isinstance(element.get("formResponse"), dict):
        answers_of(element)[0]["answerDetails"]["textQuestionAnswer"]["answer"] = "Zoë Secret"

    with pytest.raises(BadPayload, match=problem) as raised:
        normalize_response(element, LOOKUP)

    assert "Zoë" not in str(raised.value)
    assert "MpGcnvaU_p" not in str(raised.value)


@pytest.mark.parametrize(
    "change, source",
    [
        (lambda e: answers_of(e).append("not an answer"), "answers[2]"),
        (
            lambda e: answers_of(e).append(
                {"answerDetails": {"textQuestionAnswer": {"answer": "x"}}}
            ),
            "answers[2]",
        ),
        (lambda e: answers_of(e).append({"question": "leadGenFormQuestion:9"}), "answers[2]"),
        (
            lambda e: answers_of(e).append({"questionId": 9, "answerDetails": {"dateAnswer": {}}}),
            "question:9",
        ),
        (lambda e: answers_of(e).append({"questionId": 9, "answerDetails": "x"}), "question:9"),
        (
            lambda e: answers_of(e)[1]["answerDetails"]["multipleChoiceAnswer"].update(options=3),
            "question:707",
        ),
        (lambda e: e["formResponse"].update(answers={"a": 1}), "answers"),
        (
            lambda e: answers_of(e)[0]["answerDetails"]["textQuestionAnswer"].update(
                answer={"a": 1}
            ),
            "question:307234246",
        ),
        (lambda e: answers_of(e).append(copy.deepcopy(answers_of(e)[0])), "question:307234246"),
        (
            lambda e: e["formResponse"].update(
                consentResponses=[{"consent": "yes", "accepted": True}]
            ),
            "consents[0]",
        ),
        (lambda e: e["formResponse"].update(consentResponses=[None]), "consents[0]"),
        (lambda e: e.update(versionedLeadGenFormUrn="urn:li:leadGenFormQuestion:1"), "form"),
        (lambda e: e.update(versionedLeadGenFormUrn=None), "form"),
        (lambda e: e.update(owner={"organization": 5}), "owner"),
        (lambda e: e.update(associatedEntity={"event": 789}), "associated_entity"),
        (lambda e: e.update(leadMetadata={"somethingElse": {}}), "lead_metadata"),
        (lambda e: e.update({"form~": {"hiddenFields": "utm=1"}}), "hidden_fields"),
    ],
)
def test_one_bad_field_does_not_block_the_lead(change, source):
    element = lead()
    change(element)

    normalized = normalize_response(element, LOOKUP)

    assert normalized["id"] == EXPECTED["id"]
    assert source in [e["source"] for e in normalized["errors"]]
    assert all(set(e) == {"source", "message"} for e in normalized["errors"])


# --- found by the hostile-input suite (tests/hostile/): each crashed or slipped through before ---

@pytest.mark.parametrize("changes, says", [
    # str() of an integer this long raises ValueError (Python's 4300-digit limit).
    ({"id": 10**5000}, "number too long"),
    # math.isfinite() of an integer past a float's range raised OverflowError.
    ({"submittedAt": 10**400}, "not a moment a calendar holds"),
])
def test_absurd_numbers_in_the_id_or_the_time_are_a_bad_payload_not_a_crash(changes, says):
    with pytest.raises(BadPayload, match=says):
        normalize_response(lead(**changes), LOOKUP)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "a\x00b", "\ud800", pytest.param(10**5000, id="a 5001-digit integer")])
def test_a_lead_holding_what_no_json_column_keeps_is_refused_not_returned(value):
    """Such a value in an answer or a hidden field used to come back in the NormalizedLead, which
    the database then refused (or SQLite kept and PostgreSQL did not)."""
    answer = {"questionId": 307234246, "answerDetails": {"textQuestionAnswer": {"answer": value}}}
    for element in (lead(formResponse={"answers": [answer]}), lead(form={"hiddenFields": [{"name": "x", "value": value}]})):
        with pytest.raises(BadPayload, match="^lead: the JSON holds"):
            normalize_response(element, LOOKUP)


def test_a_lead_nested_past_any_real_lead_is_refused():
    deep = "x"
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(BadPayload, match="nested deeper"):
        normalize_response(lead(testLead=deep), LOOKUP)
