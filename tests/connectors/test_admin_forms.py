"""A form's admin page shows every field LeadSync read from LinkedIn (LGF-103): questions with their
kind, predefined field, required flag, maximum length and options; hidden fields, static or
dynamic; consents and their text. What discovery found gone is marked, and filterable."""

import pytest
from django.urls import reverse
from django.utils import timezone

from connectors.models import LeadFormVersion
from tests import factories

pytestmark = pytest.mark.django_db

DEFINITION = {
    "form_id": "777", "version": 2, "name": "Summit registration",
    "questions": [
        {"id": "11", "name": "email", "label": None, "text": "Work email", "predefined_field": "WORK_EMAIL",
         "type": "text", "required": True, "max_length": 150, "options": []},
        {"id": "12", "name": "track", "label": "Track", "text": "Which track?", "predefined_field": None,
         "type": "multiple_choice", "required": False, "max_length": None,
         "options": [{"id": "901", "text": "Data", "label": None}, {"id": "902", "text": "Design", "label": None}]},
    ],
    "hidden_fields": [{"name": "utm_source", "value": "linkedin"}, {"name": "campaign", "value": "{{CAMPAIGN_ID}}"}],
    "consents": [{"id": "5", "text": "Send me the agenda", "required": True, "label": None}],
}


def test_the_form_page_shows_every_question_hidden_field_and_consent(admin_client):
    form = factories.lead_form(linkedin_id="777", current_version=2)
    LeadFormVersion.objects.filter(form=form).update(definition=DEFINITION)

    page = admin_client.get(reverse("admin:connectors_leadform_change", args=[form.pk])).content.decode()

    for text in ("Work email", "WORK_EMAIL", "150", "Which track?", "multiple choice", "901: Data", "902: Design",
                 "utm_source", "static", "{{CAMPAIGN_ID}}", "dynamic: LinkedIn fills it per lead",
                 "Send me the agenda"):
        assert text in page, text


def test_what_discovery_found_gone_is_marked_and_filterable(admin_client):
    here = factories.lead_form(name="Still here")
    gone = factories.lead_form(name="Taken down", gone_at=timezone.now())
    url = reverse("admin:connectors_leadform_changelist")

    listed = admin_client.get(url, {"gone": "yes"}).content.decode()
    assert gone.name in listed and here.name not in listed
    listed = admin_client.get(url, {"gone": "no"}).content.decode()
    assert here.name in listed and gone.name not in listed
