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


@pytest.fixture
def linkedin_calls(monkeypatch):
    from connectors.linkedin.client import LinkedInClient

    calls, send = [], LinkedInClient._request

    def spy(self, method, path, *args, **kwargs):
        calls.append(path)
        return send(self, method, path, *args, **kwargs)

    monkeypatch.setattr(LinkedInClient, "_request", spy)
    return calls


@pytest.fixture
def two_integrations_of_one_owner(cli, event_integration):
    from connectors.models import LeadForm
    from mappings.models import Integration

    other = (LeadForm.objects.filter(owner=event_integration.form.owner, event__isnull=False)
             .exclude(pk=event_integration.form_id).first())
    assert cli("enable", other.linkedin_id, "--crm", "crm").code == 0
    assert cli("sync", "--days", "90").code == 0
    return event_integration, Integration.objects.get(form=other)


def test_a_siblings_tick_in_the_same_interval_costs_no_call(two_integrations_of_one_owner, linkedin_calls):
    """Issue 10: beat ticks every integration; the first tick of an owner pulls all its integrations
    with one call per lead type, and the others' ticks of that interval find the work done."""
    from leads.tasks import sync_integration
    from sandbox.crm.models import CrmCall

    first, second = two_integrations_of_one_owner
    crm_before = CrmCall.objects.count()

    pulled = sync_integration.apply(args=[first.pk]).get()
    assert pulled["state"] == "succeeded"
    assert len(linkedin_calls) == len(first.lead_types or first.form.receives())
    del linkedin_calls[:]

    tick = sync_integration.apply(args=[second.pk]).get()
    assert tick["state"] == "done", tick
    assert tick["run"] == second.runs.filter(trigger="schedule").latest("started_at").pk
    assert linkedin_calls == [] and CrmCall.objects.count() == crm_before


def test_an_integrations_own_next_tick_still_pulls(two_integrations_of_one_owner, linkedin_calls):
    """Only a scheduled run less than half the interval old counts: a manual sync stands for no
    tick, and the integration's own tick of the next interval pulls, even when the previous one ran
    late."""
    from datetime import timedelta

    from django.utils import timezone

    from leads.models import SyncRun
    from leads.tasks import sync_integration
    from mappings.models import Integration

    first, _ = two_integrations_of_one_owner  # both were just synced, manually
    assert sync_integration.apply(args=[first.pk]).get()["state"] == "succeeded", "a manual run is no tick"

    half = timedelta(minutes=first.sync_every_minutes) / 2 + timedelta(seconds=1)
    SyncRun.objects.filter(integration=first).update(started_at=timezone.now() - half)
    Integration.objects.filter(pk=first.pk).update(last_sync_at=timezone.now() - half)
    del linkedin_calls[:]
    assert sync_integration.apply(args=[first.pk]).get()["state"] == "succeeded"
    assert linkedin_calls, "it pulled"


def test_an_idle_poll_loads_no_pusher(cli, event_integration, monkeypatch):
    """Nothing pending after the pull: the push does not load the mapping and the CRM's field
    catalogue (Pusher) only to find no lead to send."""
    from leads.models import SyncRun
    from leads.pipeline import push
    from leads.pipeline.sync import integration_sync

    assert cli("sync", "--days", "90").code == 0
    built = []
    init = push.Pusher.__init__
    monkeypatch.setattr(push.Pusher, "__init__", lambda self, *a, **kw: (built.append(1), init(self, *a, **kw))[1])

    run = integration_sync(integration=event_integration, trigger=SyncRun.Trigger.SCHEDULE)

    assert run.state == "succeeded" and run.new == 0
    assert built == []
