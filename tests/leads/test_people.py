"""One person's data, out or gone (`leadsync person export` / `person erase`), and the retention purge
(LEADSYNC_RETENTION_DAYS): what is kept recognises the lead without the person."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads.models import Lead, LeadAttempt
from leads.people import leads_retention_purge
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ANSWERS = {"answers": {"2": {"name": "email", "value": "Ada@Example.com"}}, "hidden_fields": {}, "consents": {}}


def run(*args):
    out = StringIO()
    call_command("leadsync", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def ada():
    integration = factories.integration()
    first = factories.lead(integration, email="Ada@Example.com", answers=ANSWERS, raw={"id": "x", "email": "ada"},
                           submitter_urn="urn:li:person:ada", state="synced", crm_id="11")
    second = factories.lead(integration, email="ada@example.com", answers=ANSWERS, state="failed", last_error="205")
    other = factories.lead(integration, email="bob@example.com")
    LeadAttempt.objects.create(lead=second, at=timezone.now(), number=1, outcome="failed", error_code="205",
                               message="CRM error 205: Invalid parameters (emailAddress: ada@example.com)")
    return first, second, other


def test_person_export_holds_every_lead_of_the_address_whatever_its_case(ada):
    data = json.loads(run("person", "export", "ADA@example.com"))
    assert data["ok"] and sorted(l["linkedin_id"] for l in data["leads"]) == sorted([ada[0].linkedin_id, ada[1].linkedin_id])
    assert all(l["answers"] == ANSWERS for l in data["leads"]) and "bob@example.com" not in json.dumps(data)


def test_person_erase_keeps_nothing_about_the_person_and_the_lead_is_never_pulled_again(ada):
    data = json.loads(run("person", "erase", "ada@example.com", "--json"))
    assert data["leads_erased"] == 2 and "ada@" not in json.dumps(data).lower()
    for lead in Lead.objects.filter(pk__in=[ada[0].pk, ada[1].pk]):
        assert lead.state == "deleted" and lead.email == "" and lead.answers == {} and lead.submitter_urn is None
        assert lead.linkedin_id and "ada" not in json.dumps(lead.raw)
    assert Lead.objects.get(pk=ada[0].pk).crm_id == "11", "the CRM id stays, to find the record"
    [attempt] = LeadAttempt.objects.filter(lead=ada[1])
    assert attempt.message == "" and attempt.error_code == "205", "the CRM's words may quote the person"
    assert Lead.objects.get(pk=ada[2].pk).email == "bob@example.com"
    assert json.loads(run("person", "export", "ada@example.com"))["leads"] == []


def test_an_address_that_is_not_one_is_bad_usage():
    with pytest.raises(CommandError) as exc:
        run("person", "erase", "not-an-address")
    assert exc.value.returncode == 2


def test_the_retention_purge_clears_old_leads_personal_data_and_keeps_their_counts(ada):
    Lead.objects.filter(pk=ada[0].pk).update(submitted_at=timezone.now() - timedelta(days=400))
    assert leads_retention_purge(days=None) == 0, "no setting: nothing is purged"
    assert leads_retention_purge(days=365) == 1
    old = Lead.objects.get(pk=ada[0].pk)
    assert old.state == "synced" and old.crm_id == "11" and old.email == "" and old.answers == {}
    assert Lead.objects.get(pk=ada[1].pk).email == "ada@example.com", "a recent lead is kept"
    assert leads_retention_purge(days=365) == 0, "nothing to purge twice"
    assert LeadAttempt.objects.get(lead=ada[1]).message, "a recent lead's pushes are kept"
    Lead.objects.filter(pk=ada[1].pk).update(submitted_at=timezone.now() - timedelta(days=400))
    assert leads_retention_purge(days=365) == 1 and LeadAttempt.objects.get(lead=ada[1]).message == ""
