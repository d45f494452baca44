"""A field the CRM refuses never sinks its lead (LGF-109 at the CRM), and a push that ended in an
error that may pass is tried again by later scheduled syncs, boundedly, with every attempt on the
lead's record: over real HTTP against the sandbox CRM."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead, LeadAttempt, SyncRun
from leads.pipeline.sync import integration_sync, leads_retry_failed
from sandbox.crm.models import CrmCall, CrmField, CrmLead
from tests.e2e.conftest import crm_fault

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def scheduled_sync(integration):
    return integration_sync(integration=integration, trigger=SyncRun.Trigger.SCHEDULE, days=90)


def crm_emails():
    return sorted(CrmLead.objects.values_list("email_lower", flat=True))


def assert_each_synced_person_once_in_the_crm():
    emails = crm_emails()
    synced = set(Lead.objects.filter(state="synced").values_list("email", flat=True))
    assert len(emails) == len(set(emails)) and set(emails) == {e.lower() for e in synced}, "each person once"


def outcome(lead, crm_field):
    return next(o for o in lead.field_outcomes if o["crm_field"] == crm_field)


def test_a_field_the_crm_refuses_is_left_out_and_the_lead_still_syncs(cli, event_integration):
    # The CRM takes at most 12 characters of a company now: LeadSync's catalogue still says 100,
    # so the CRM itself refuses those leads with 205, naming the field.
    CrmField.objects.filter(system_name="companyName").update(data_length=12)

    result = cli("sync", "--days", "90", "--json")

    assert result.code == 0, result.out + result.err
    leads = list(Lead.objects.exclude(state="skipped"))
    assert leads and all(lead.state == "synced" and lead.crm_id for lead in leads), "no lead sunk by one field"
    refused = [lead for lead in leads if "refused by the CRM" in outcome(lead, "companyName")["message"]]
    kept = [lead for lead in leads if outcome(lead, "companyName")["status"] == "ok"]
    assert refused and kept, "the sandbox's companies are of both lengths"
    for lead in refused:
        assert outcome(lead, "companyName")["status"] == "error" and "205" in outcome(lead, "companyName")["message"]
        crm = CrmLead.objects.get(email_lower=lead.email.lower())
        assert crm.data.get("companyName", "") == "" and crm.data.get("firstName")
        [attempt] = lead.push_attempts.all()
        assert attempt.outcome == LeadAttempt.Outcome.SYNCED_WITHOUT and attempt.refused_fields == ["companyName"]
    assert len(crm_emails()) == len(set(crm_emails())) == len({lead.email.lower() for lead in leads}), "each once"
    assert result.json["runs"][0]["failed"] == 0


def test_a_lead_the_crm_refuses_as_a_whole_is_failed_and_waits_for_staff(cli, event_integration):
    crm_fault(reject_email=".", reject_code=205, reject_message="Invalid parameters")

    result = cli("sync", "--days", "90", "--json")

    assert result.code == 0
    victim = Lead.objects.exclude(state="skipped").first()
    assert victim.state == "failed" and victim.error_code == "205" and victim.retry_at is None
    assert victim.push_attempts.get().outcome == LeadAttempt.Outcome.FAILED
    assert not CrmLead.objects.exists()


def test_a_push_the_crm_ended_is_retried_by_later_scheduled_syncs_then_succeeds(cli, event_integration, settings):
    settings.LEADSYNC_LEAD_RETRIES = 5
    crm_fault(fail_next=1000)  # the CRM is down (HTTP 500) for the rest of this sync

    first = scheduled_sync(event_integration)

    assert first.state == "failed" and "500" in first.error
    waiting = Lead.objects.filter(state="pending")
    assert waiting.exists() and not waiting.filter(retry_at__isnull=True).exists()
    lead = waiting.order_by("pk").first()
    # A 500 to createLeads may have come after the work: the answer counts as lost, and the CRM
    # could not be read either to find out.
    assert lead.retries == 1 and lead.error_code == "lost" and "answer to createLeads was lost" in lead.last_error
    assert 50 <= (lead.retry_at - timezone.now()).total_seconds() <= 60, "the first delay is the base"
    assert lead.push_attempts.get().outcome == LeadAttempt.Outcome.RETRY

    crm_fault(reset=True)
    calls = CrmCall.objects.filter(method="createLeads").count()
    second = scheduled_sync(event_integration)
    assert second.state == "succeeded" and second.created == 0, "not due yet: a scheduled sync leaves them"
    assert CrmCall.objects.filter(method="createLeads").count() == calls

    Lead.objects.filter(state="pending").update(retry_at=timezone.now() - timedelta(seconds=1))
    third = scheduled_sync(event_integration)

    assert third.state == "succeeded" and third.created > 0
    assert not Lead.objects.filter(state="pending").exists()
    lead.refresh_from_db()
    assert lead.state == "synced" and lead.retries == 0 and lead.retry_at is None and lead.error_code == ""
    assert [a.outcome for a in lead.push_attempts.all()] == ["retry", "synced"]
    assert_each_synced_person_once_in_the_crm()


def test_a_manual_sync_does_not_wait_for_a_lead_s_retry_time(cli, event_integration):
    crm_fault(fail_next=1000)
    assert scheduled_sync(event_integration).state == "failed"
    crm_fault(reset=True)

    result = cli("sync", event_integration.form.linkedin_id, "--json")

    assert result.code == 0 and not Lead.objects.filter(state="pending").exists()


def test_retries_are_bounded_then_the_lead_waits_for_staff_with_its_history(cli, event_integration, settings):
    settings.LEADSYNC_LEAD_RETRIES = 3
    crm_fault(fail_next=100000)
    for _ in range(3):
        Lead.objects.filter(state="pending").update(retry_at=None)
        assert scheduled_sync(event_integration).state == "failed"

    lead = Lead.objects.exclude(state="skipped").order_by("pk").first()
    assert lead.state == "failed" and lead.retries == 3 and "Given up after 3 tries" in lead.last_error
    assert [a.outcome for a in lead.push_attempts.all()] == ["retry", "retry", "failed"]
    assert [a.number for a in lead.push_attempts.all()] == [1, 2, 3]

    crm_fault(reset=True)
    creates = CrmCall.objects.filter(method="createLeads").count()
    assert scheduled_sync(event_integration).created == 0, "a given-up lead is not pushed by itself"
    assert CrmCall.objects.filter(method="createLeads").count() == creates

    run = leads_retry_failed(integration=event_integration)  # staff: "retry"

    lead.refresh_from_db()
    assert run.state == "succeeded" and lead.state == "synced" and lead.retries == 0
    assert_each_synced_person_once_in_the_crm()


def test_a_lost_create_answer_counts_as_a_retry_and_is_looked_up_first(cli, event_integration, monkeypatch):
    from connectors.crm.client import CrmClient
    from connectors.exceptions import ServerError

    def unreadable(self, *args, **kwargs):
        raise ServerError("CRM getLeadsDateRange failed on the CRM's side", status=503)

    monkeypatch.setattr(CrmClient, "get_leads_date_range", unreadable)
    crm_fault(drop_next=1)
    first = scheduled_sync(event_integration)

    assert first.state == "failed"
    lost = Lead.objects.filter(error_code="lost")
    assert lost.exists() and all(lead.retry_at and "answer to createLeads was lost" in lead.last_error for lead in lost)

    monkeypatch.undo()
    Lead.objects.filter(state="pending").update(retry_at=None)
    assert scheduled_sync(event_integration).state == "succeeded"
    assert not Lead.objects.filter(state="pending").exists()
    assert_each_synced_person_once_in_the_crm()


def test_a_per_object_rate_limit_is_retried_later_not_failed(cli, event_integration):
    crm_fault(reject_email=".", reject_code=107, reject_message="Too many requests")

    scheduled_sync(event_integration)

    lead = Lead.objects.exclude(state="skipped").first()
    assert lead.state == "pending" and lead.error_code == "107" and lead.retry_at is not None
    assert lead.push_attempts.get().outcome == LeadAttempt.Outcome.RETRY
