"""The lead-to-sales funnel over real HTTP: sync the sandbox's leads, let sales move some along in
the sandbox CRM (through its JSON-RPC and behind its back), delete one, and the report counts each
LinkedIn lead at its CRM lead's current stage, reading the CRM with one date-range call plus one
call per lead that range cannot see."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.clients import crm_client
from leads.models import Lead
from leads.ops.report import CRM_STAGES, ReportError, funnel_report
from sandbox.crm.models import CrmCall, CrmLead
from tests.e2e.conftest import crm_fault

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def test_report_counts_each_lead_at_its_crm_leads_current_stage(cli, event_integration):
    assert cli("sync", "--days", "90").code == 0
    until = timezone.now()
    since = until - timedelta(days=90)
    leads = Lead.objects.filter(integration=event_integration, test_lead=False,
                                submitted_at__gte=since, submitted_at__lt=until)
    synced = list(leads.filter(state="synced").order_by("pk"))
    crm_ids = list(dict.fromkeys(lead.crm_id for lead in synced))
    assert len(crm_ids) >= 6, "the seed gives enough synced leads to move some along"

    # Sales at work: two leads through the CRM's own API, one behind its back, one long untouched
    # (so the date range cannot see it), one made inactive, one deleted.
    client = crm_client(event_integration.crm_connection)
    results = client.update_leads_v2([{"id": crm_ids[0], "leadStatus": "qualified"},
                                      {"id": crm_ids[1], "leadStatus": "contactWithOpp"}])
    assert all(r.success for r in results)
    behind = CrmLead.objects.get(lead_id=int(crm_ids[2]))
    behind.data["leadStatus"] = "contact"
    behind.save()
    old = CrmLead.objects.get(lead_id=int(crm_ids[3]))
    old.data["leadStatus"] = "open"
    old.created_at = old.updated_at = until - timedelta(days=400)
    old.save()
    inactive = CrmLead.objects.get(lead_id=int(crm_ids[4]))
    inactive.data |= {"leadStatus": "qualified", "active": "0"}
    inactive.is_active = False
    inactive.save()
    CrmLead.objects.filter(lead_id=int(crm_ids[5])).delete()

    calls_before = CrmCall.objects.count()
    data = funnel_report(since=since, until=until)

    # What the report should say, from the stored leads and the sandbox CRM's own rows.
    states = Counter(lead.state for lead in leads)
    current = {str(c.lead_id): c.data.get("leadStatus") for c in CrmLead.objects.filter(lead_id__in=map(int, crm_ids))}
    stages = Counter(current.get(lead.crm_id, "deleted") for lead in synced)
    [row] = data["by_integration"]
    assert row["id"] == event_integration.pk
    for group in (data["totals"], row, *data["by_form"]):
        assert group["leads"] == leads.count()
        assert (group["synced"], group["failed"], group["pending"]) == (states["synced"], states["failed"], states["pending"])
        assert {stage: group[stage] for stage in CRM_STAGES} == {stage: stages[stage] for stage in CRM_STAGES}
        assert group["crm_deleted"] == stages["deleted"] >= 1
        assert group["crm_leads"] == len(crm_ids) - 1
        qualified = stages["qualified"] + stages["contact"] + stages["contactWithOpp"]
        assert group["qualified_rate"] == round(qualified / len(synced), 4)
        assert group["opportunity_rate"] == round(stages["contactWithOpp"] / len(synced), 4)
    assert row["contactWithOpp"] >= 1 and row["contact"] >= 1 and row["qualified"] >= 2

    # Every event lead is under the integration's event, with its discovered name.
    [event] = data["by_event"]
    assert event["urn"] == event_integration.form.event.urn and event["name"] == event_integration.form.event.name
    assert event["leads"] == leads.count()

    # One date-range call, then getLead only for the leads it cannot see (untouched, inactive, deleted).
    calls = Counter(CrmCall.objects.order_by("pk")[calls_before:].values_list("method", flat=True))
    assert calls == {"getLeadsDateRange": 1, "getLead": 3}


def test_report_fails_whole_when_the_crm_stays_down(cli, event_integration):
    assert cli("sync", "--days", "90").code == 0
    crm_fault(fail_next=100)
    with pytest.raises(ReportError, match="No report was made"):
        funnel_report()
