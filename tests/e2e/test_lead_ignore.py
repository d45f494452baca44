"""Ignored leads over real HTTP against the sandbox CRM: leads the CRM refused wait as failed;
staff ignore some (`leadsync ignore`), fix the cause and retry every lead failed with that error
(`leadsync retry-failed --error CODE`): the others reach the CRM, the ignored ones never do, not
by the retry nor by a later sync, until they are un-ignored and retried."""

import pytest

from leads.models import Lead
from sandbox.crm.models import CrmLead
from tests.e2e.conftest import crm_fault

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def in_crm(lead):
    return CrmLead.objects.filter(email_lower=lead.email.lower()).exists()


def test_ignored_leads_never_reach_the_crm_until_un_ignored(cli, event_integration):
    crm_fault(reject_email=".", reject_code=205, reject_message="Invalid parameters")
    assert cli("sync", "--days", "90").code == 0
    refused = list(Lead.objects.filter(state="failed", error_code="205").order_by("pk"))
    assert len(refused) >= 3 and not CrmLead.objects.exists()
    # People who registered once: a CRM lead with their e-mail can only come from their own lead.
    emails = [lead.email.lower() for lead in refused]
    once = [lead for lead in refused if emails.count(lead.email.lower()) == 1]
    ignored = once[:2]
    kept = [lead for lead in refused if lead not in ignored]

    result = cli("ignore", *[lead.linkedin_id for lead in ignored], "--reason", "staff test sign-ups", "--json")
    assert result.code == 0 and sorted(result.json["ignored"]) == sorted(lead.linkedin_id for lead in ignored)
    crm_fault(reset=True)

    result = cli("retry-failed", "--error", "205", "--json")

    assert result.code == 0, result.out + result.err
    assert result.json["retried"] == len(kept)
    assert all(Lead.objects.get(pk=lead.pk).state == "synced" and in_crm(lead) for lead in kept)
    assert all(Lead.objects.get(pk=lead.pk).state == "ignored" and not in_crm(lead) for lead in ignored)

    assert cli("sync", event_integration.form.linkedin_id).code == 0
    assert not any(in_crm(lead) for lead in ignored), "a sync never pushes an ignored lead"

    assert cli("unignore", ignored[0].linkedin_id).code == 0
    assert cli("retry-failed", event_integration.form.linkedin_id).code == 0
    assert Lead.objects.get(pk=ignored[0].pk).state == "synced" and in_crm(ignored[0])
    assert Lead.objects.get(pk=ignored[1].pk).state == "ignored" and not in_crm(ignored[1])
