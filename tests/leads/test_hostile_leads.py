"""One hostile lead never stops a page of the pull or a push batch (LGF-110): leads LinkedIn (or
something answering in its place) sends malformed are refused as BadPayload, recorded, and the
others are stored and pushed. On PostgreSQL too, where an over-long value would break the page's
one INSERT."""

import pytest

from connectors.exceptions import BadPayload
from connectors.linkedin.responses import normalize_response
from leads.models import Lead
from leads.pipeline.pull import leads_store
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def element(lead_id, **overrides):
    base = {"id": lead_id, "submittedAt": 1_700_000_000_000, "leadType": "EVENT",
            "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1001,1)",
            "formResponse": {"answers": [{"questionId": 2, "answerDetails": {"textQuestionAnswer": {"answer": "a@b.co"}}}]}}
    return {**base, **overrides}


def no_versions(form_id, version):
    return None


@pytest.mark.parametrize("hostile, says", [
    ({"submittedAt": 10**17}, "not a moment a calendar holds"),
    ({"id": "x" * 500}, "longer than 200"),
    ({"formResponse": {"answers": "not a list", "consentResponses": {"a": 1}}}, None),
])
def test_a_malformed_lead_is_a_bad_payload_or_a_recorded_field_error_never_a_crash(hostile, says):
    lead = element("h-1", **hostile)
    if says:
        with pytest.raises(BadPayload, match=says):
            normalize_response(lead, no_versions)
    else:
        assert normalize_response(lead, no_versions)["errors"]


def test_a_hidden_field_whose_name_is_an_object_is_a_field_error_and_the_lead_goes_through():
    lead = element("h-2", form={"hiddenFields": [{"name": {"nested": "x"}, "value": "v"}]})
    normalized = normalize_response(lead, no_versions)
    assert normalized["hidden_fields"] == {} and any(e["source"] == "hidden_fields" for e in normalized["errors"])


def test_one_hostile_lead_does_not_stop_the_page_and_over_long_values_are_not_stored():
    integration = factories.integration(form=factories.lead_form(linkedin_id="1001"))
    page = [
        element("good-1"),
        element("bad-time", submittedAt=-(10**18)),
        element("long-values", leadType="E" * 5000, submitter="urn:li:person:" + "p" * 5000),
        element("good-2"),
    ]
    stored, malformed = leads_store(elements=page, versions=no_versions, route=lambda n: integration, where="test")
    assert malformed == 1
    assert set(Lead.objects.values_list("linkedin_id", flat=True)) == {"good-1", "long-values", "good-2"}
    long_values = Lead.objects.get(linkedin_id="long-values")
    assert long_values.lead_type == "" and long_values.submitter_urn is None
    assert long_values.raw["leadType"] == "E" * 5000, "the lead as LinkedIn sent it is kept whole"
