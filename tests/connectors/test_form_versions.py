"""An earlier form version a lead answered is fetched and kept; a server that will not give it
changes nothing (the lead is read with the newest version)."""

import pytest

from connectors.exceptions import BadRequest, NotFound
from connectors.models import LeadFormVersion
from connectors.discovery import lead_form_version_fetch
from tests import factories

pytestmark = pytest.mark.django_db


class FakeClient:
    def __init__(self, answer):
        self.answer = answer

    def lead_form_version(self, form_id, version):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def versioned_form(form_id, version):
    return {"id": int(form_id), "name": "Webinar", "versionId": version, "state": "PUBLISHED",
            "owner": {"organization": "urn:li:organization:1"}, "creationLocale": {"country": "US", "language": "en"},
            "content": {"questions": [{"questionId": 7, "name": "track", "question": {"localized": {"en_US": "Track"}},
                                       "questionDetails": {"multipleChoiceQuestionDetails": {"options": [
                                           {"id": 0, "text": {"localized": {"en_US": "Data"}}}]}}}],
                        "legalInfo": {"legalInfoId": 1, "consents": []}}}


def test_an_earlier_version_is_fetched_and_stored():
    form = factories.lead_form(current_version=2)
    definition = lead_form_version_fetch(client=FakeClient(versioned_form(form.linkedin_id, 1)), form=form, version=1)
    assert definition["questions"][0]["options"][0]["text"] == "Data"
    assert LeadFormVersion.objects.get(form=form, version=1).definition == definition


@pytest.mark.parametrize("refusal", [NotFound("no such version", status=404), BadRequest("bad key", status=400)])
def test_a_version_the_server_refuses_changes_nothing(refusal):
    form = factories.lead_form(current_version=2)
    assert lead_form_version_fetch(client=FakeClient(refusal), form=form, version=1) is None
    assert not LeadFormVersion.objects.filter(form=form, version=1).exists()
