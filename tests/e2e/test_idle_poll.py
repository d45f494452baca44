"""An idle poll is free (issue 10): a scheduled sync that finds nothing new costs one LinkedIn call
per owner and lead type and no CRM call; over real HTTP against the sandbox."""

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def test_an_idle_poll_costs_one_linkedin_call_per_owner_and_lead_type_and_no_crm_call(cli, event_integration,
                                                                                      monkeypatch):
    """Issue 10: a scheduled poll that finds nothing new reads one page per owner and lead type and
    never calls the CRM."""
    from connectors.linkedin.client import LinkedInClient
    from leads.models import SyncRun
    from leads.pipeline.sync import integration_sync
    from sandbox.crm.models import CrmCall

    assert cli("sync", "--days", "90").code == 0
    calls, crm_before = [], CrmCall.objects.count()
    send = LinkedInClient._request
    monkeypatch.setattr(LinkedInClient, "_request",
                        lambda self, method, path, *a, **kw: (calls.append(path), send(self, method, path, *a, **kw))[1])

    run = integration_sync(integration=event_integration, trigger=SyncRun.Trigger.SCHEDULE)

    lead_types = event_integration.lead_types or event_integration.form.receives()
    assert run.state == "succeeded" and run.new == 0 and run.created == run.updated == 0
    assert len(calls) == len(lead_types) and all("leadFormResponses" in path for path in calls), calls
    assert CrmCall.objects.count() == crm_before, "no CRM call"
