"""One LinkedIn finder query per owner and lead type (design.md): the integrations of one
organization share every page, each lead going to the integration of its form."""

from collections import Counter

import pytest

from connectors.linkedin.client import LinkedInClient
from connectors.models import LeadForm
from leads.pipeline import locks, sync
from leads.models import Lead, SyncRun
from mappings.models import Integration
from sandbox.linkedin import models as li

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def finder_calls(monkeypatch):
    calls = Counter()
    original = LinkedInClient.lead_form_responses

    def spy(self, owner_urn, lead_type, **kwargs):
        calls[(owner_urn, lead_type)] += 1
        return original(self, owner_urn, lead_type, **kwargs)

    monkeypatch.setattr(LinkedInClient, "lead_form_responses", spy)
    return calls


@pytest.fixture
def two_forms_of_one_owner(cli, event_integration):
    other = (LeadForm.objects.filter(owner=event_integration.form.owner, event__isnull=False)
             .exclude(pk=event_integration.form_id).first())
    assert cli("enable", other.linkedin_id, "--crm", "crm").code == 0
    return event_integration, Integration.objects.get(form=other)


def expected_ids(integration):
    return set(li.Lead.objects.filter(form_version__form_id=int(integration.form.linkedin_id))
               .values_list("id", flat=True))


def test_two_integrations_of_one_owner_share_one_query_per_lead_type(cli, two_forms_of_one_owner, finder_calls):
    first, second = two_forms_of_one_owner
    result = cli("sync", "--days", "90", "--json")
    assert result.code == 0, result.out + result.err
    owner = first.form.owner.urn
    assert set(finder_calls) == {(owner, t) for t in first.form.lead_types}
    assert all(n == 1 for n in finder_calls.values()), finder_calls
    for integration in (first, second):
        stored = set(Lead.objects.filter(integration=integration).values_list("linkedin_id", flat=True))
        assert stored and stored <= expected_ids(integration)
        assert SyncRun.objects.get(integration=integration).state == "succeeded"


def test_a_scheduled_sync_of_one_integration_brings_its_siblings_along(two_forms_of_one_owner, finder_calls):
    first, second = two_forms_of_one_owner
    run = sync.integration_sync(integration=first)
    assert run.state == "succeeded"
    sibling_run = SyncRun.objects.get(integration=second)
    assert sibling_run.state == "succeeded" and sibling_run.pulled > 0
    second.refresh_from_db()
    assert second.watermark is not None
    assert all(n == 1 for n in finder_calls.values())


def test_a_busy_sibling_is_left_alone(two_forms_of_one_owner):
    first, second = two_forms_of_one_owner
    token = locks.integration_lock_acquire(integration=second)
    try:
        assert sync.integration_sync(integration=first).state == "succeeded"
    finally:
        locks.integration_lock_release(integration=second, token=token)
    assert not SyncRun.objects.filter(integration=second).exists()
    assert not Lead.objects.filter(integration=second).exists()
