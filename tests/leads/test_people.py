"""One person's data, out or gone (`leadsync person export` / `person erase`), each leaving an audit
row without the person (PersonRequest), and the retention purge (LEADSYNC_RETENTION_DAYS): what is
kept recognises the lead without the person."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from connectors.crm.client import ObjectResult
from leads.models import Lead, LeadAttempt, PersonRequest
from leads.people import PersonEraseRefused, email_digest, leads_retention_purge, person_erase, person_summary
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ANSWERS = {"answers": {"1": {"name": "lastName", "value": "Lovelace"}, "2": {"name": "email", "value": "Ada@Example.com"}},
           "hidden_fields": {}, "consents": {}}


def assert_holds_nothing_about_ada(row: PersonRequest):
    """No field of the audit row carries the address (in any case), the name or the answers."""
    for field in row._meta.concrete_fields:
        value = str(field.value_from_object(row)).lower()
        for needle in ("ada@example.com", "lovelace", "ada@"):
            assert needle not in value, (field.name, value)


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
    [pushed] = [l["pushes"] for l in data["leads"] if l["linkedin_id"] == ada[1].linkedin_id]
    assert pushed[0]["error_code"] == "205" and "ada@example.com" in pushed[0]["crm_said"], "what the CRM said, too"


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


class FakeCrm:
    """deleteLeads that deletes, or refuses the ids in `refuse` with a message echoing the address."""

    def __init__(self, refuse=()):
        self.deleted, self.refuse = [], set(refuse)

    def delete_leads(self, ids):
        [crm_id] = ids
        if crm_id in self.refuse:
            return [ObjectResult(0, False, crm_id, 999, "Lead ADA@example.com is locked")]
        self.deleted.append(crm_id)
        return [ObjectResult(0, True, crm_id)]


@pytest.fixture
def crm(monkeypatch):
    fake = FakeCrm()
    monkeypatch.setattr("leads.people.crm_client", lambda connection: fake)
    return fake


def test_an_export_from_the_cli_is_recorded_with_counts_and_a_digest_not_the_address(ada):
    run("person", "export", " ADA@example.com ")
    [row] = PersonRequest.objects.all()
    assert (row.kind, row.via, row.requested_by, row.leads, row.outcome) == ("export", "cli", "cli", 2, "done")
    assert row.email_digest == email_digest("ada@example.com") and len(row.email_digest) == 64
    assert email_digest("bob@example.com") != row.email_digest
    assert_holds_nothing_about_ada(row)


def test_repeated_requests_about_one_person_share_a_digest_keyed_with_the_secret(ada, settings):
    run("person", "export", "Ada@Example.com")
    run("person", "erase", "ada@example.com")
    export, erase = PersonRequest.objects.order_by("pk")
    assert export.email_digest == erase.email_digest and (erase.kind, erase.leads) == ("erase", 2)
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    assert email_digest("ada@example.com") != export.email_digest, "the digest is keyed, not a bare hash"
    assert_holds_nothing_about_ada(erase)


def test_the_summary_counts_what_an_erasure_would_touch(ada):
    assert person_summary(email="ADA@example.com") == {"leads": 2, "in_crm": 1, "integrations": 1, "notifications": 0}
    assert PersonRequest.objects.count() == 0, "looking is not a request"


def test_an_erasure_with_crm_records_the_crm_deletions(ada, crm):
    result = person_erase(email="ada@example.com", crm=True, via="admin", requested_by="ada-the-admin")
    assert result["crm_records_deleted"] == 1 and crm.deleted == ["11"]
    row = PersonRequest.objects.get()
    assert (row.via, row.requested_by, row.crm_requested, row.crm_deleted, row.crm_kept, row.crm_failed) == \
        ("admin", "ada-the-admin", True, 1, 1, 0), "the failed lead was never in the CRM: kept"
    assert row.leads == 2


def test_a_crm_refusal_erases_nothing_here_and_is_recorded_as_failed_without_the_address(ada, crm):
    crm.refuse = {"11"}
    with pytest.raises(PersonEraseRefused) as exc:
        person_erase(email="ada@example.com", crm=True, via="cli", requested_by="cli")
    assert "nothing was erased" in str(exc.value) and "ada@" not in str(exc.value).lower()
    assert Lead.objects.filter(email__iexact="ada@example.com").count() == 2, "the request can find them again"
    row = PersonRequest.objects.get()
    assert (row.outcome, row.leads, row.crm_failed) == ("failed", 0, 1) and "locked" in row.error
    assert_holds_nothing_about_ada(row)


def test_a_refused_erasure_exits_1_from_the_cli(ada, crm):
    crm.refuse = {"11"}
    with pytest.raises(SystemExit) as exc:
        run("person", "erase", "ada@example.com", "--crm")
    assert exc.value.code == 1
