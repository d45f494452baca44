"""A large sync split in parts (issue 12): one `leads.sync_group` task per owner and lead type, so
several workers share one backfill; every lead reaches the CRM exactly once, whatever the order the
parts run in or how often one runs. Here the tasks run eagerly, in this process, against the sandbox
over real HTTP; tests/e2e/test_queues.py runs them on real workers."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.linkedin.client import LinkedInClient
from connectors.models import LeadForm
from leads import tasks
from leads.models import Lead, SyncRun
from leads.pipeline import locks
from leads.pipeline.sync import sync_parts
from mappings.models import Integration
from sandbox.crm.models import CrmLead
from sandbox.linkedin import models as li

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def eager(settings):
    from leadsync_project.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


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
def many_integrations(cli, event_integration):
    """Every published form the member may sync, enabled: several owners, several lead types."""
    for form in LeadForm.objects.exclude(pk=event_integration.form_id).order_by("linkedin_id"):
        cli("enable", form.linkedin_id, "--crm", "crm")  # a draft or unreachable form is refused: fine
    found = list(Integration.objects.select_related("form__owner").order_by("pk"))
    assert len({(i.form.owner_id, tuple(i.form.receives())) for i in found}) >= 2, "several parts"
    return found


def linkedin_ids(integrations, days=90):
    """The leads LinkedIn has for these integrations' forms in the last `days` (the backfill's window)."""
    since = timezone.now() - timedelta(days=days) + timedelta(minutes=5)  # the window was opened a little earlier
    return set(li.Lead.objects.filter(form_version__form_id__in=[int(i.form.linkedin_id) for i in integrations],
                                      submitted_at__gte=since).values_list("id", flat=True))


def assert_every_lead_in_the_crm_exactly_once(integrations):
    stored = list(Lead.objects.filter(integration__in=integrations).values_list("linkedin_id", flat=True))
    assert len(stored) == len(set(stored))
    assert set(stored) >= linkedin_ids(integrations), "every lead LinkedIn has in the window is stored"
    assert set(stored) <= linkedin_ids(integrations, days=91)
    pushable = Lead.objects.filter(integration__in=integrations).exclude(state=Lead.State.SKIPPED)
    assert set(pushable.values_list("state", flat=True)) == {Lead.State.SYNCED}
    emails = {e.lower() for e in pushable.values_list("email", flat=True)}
    in_crm = list(CrmLead.objects.filter(is_active=True).values_list("email_lower", flat=True))
    assert len(in_crm) == len(set(in_crm)), "no lead twice in the CRM"
    assert set(in_crm) == emails


def test_parts_are_one_per_owner_and_lead_types_and_hold_each_integration_once(many_integrations):
    parts = sync_parts(integrations=many_integrations)
    flat = [i.pk for part in parts for i in part]
    assert sorted(flat) == sorted(i.pk for i in many_integrations)
    for part in parts:
        assert len({(i.form.owner_id, tuple(sorted(i.lead_types or i.form.receives()))) for i in part}) == 1
    keys = [(p[0].form.owner_id, tuple(sorted(p[0].lead_types or p[0].form.receives()))) for p in parts]
    assert len(keys) == len(set(keys))


def test_a_queued_backfill_runs_in_parts_and_brings_every_lead_once(cli, many_integrations, eager, finder_calls):
    result = cli("sync", "--days", "90", "--queue", "--json")
    assert result.code == 0, result.out + result.err
    parts = result.json["parts"]
    assert len(parts) == len(sync_parts(integrations=many_integrations)) >= 2
    assert sorted(pk for p in parts for pk in p["integrations"]) == sorted(i.pk for i in many_integrations)
    # Each owner's lead types asked once: the parts' queries never overlap.
    assert all(n == 1 for n in finder_calls.values()), finder_calls
    runs = SyncRun.objects.filter(integration__in=many_integrations)
    assert sorted(runs.values_list("integration_id", flat=True)) == sorted(i.pk for i in many_integrations)
    assert set(runs.values_list("state", flat=True)) == {SyncRun.State.SUCCEEDED}
    assert set(runs.values_list("trigger", flat=True)) == {SyncRun.Trigger.BACKFILL}
    assert_every_lead_in_the_crm_exactly_once(many_integrations)

    # A part done again (a redelivery after its worker died) doubles nothing.
    calls_before = CrmLead.objects.count()
    first = parts[0]
    again = tasks.sync_group.apply(args=[first["integrations"]], kwargs={"trigger": "backfill", "days": 90}).get()
    assert {r["state"] for r in again["runs"]} == {"succeeded"} and again["busy"] == []
    assert CrmLead.objects.count() == calls_before
    assert_every_lead_in_the_crm_exactly_once(many_integrations)


def test_a_part_leaves_an_integration_another_sync_holds_to_it(many_integrations, eager):
    part = sync_parts(integrations=many_integrations)[0]
    held = part[0]
    token = locks.integration_lock_acquire(integration=held)
    try:
        result = tasks.sync_group.apply(args=[[i.pk for i in part]], kwargs={"trigger": "manual"}).get()
    finally:
        locks.integration_lock_release(integration=held, token=token)
    assert result["busy"] == [held.pk]
    assert not SyncRun.objects.filter(integration=held).exists()
    assert {r["integration"] for r in result["runs"]} == {i.pk for i in part[1:]}


def test_queue_refuses_a_bad_window_and_queues_nothing(cli, many_integrations, eager):
    result = cli("sync", "--days", "91", "--queue", "--json")
    assert result.code == 2
    assert not SyncRun.objects.exists()


def test_a_scheduled_sync_leaves_siblings_of_other_lead_types_to_their_own_tick(many_integrations, finder_calls):
    """Siblings of the same lead types join (they share the finder query); one of other lead types
    would only add its own queries to this task, so its own tick does it, on whichever worker is free."""
    from leads.pipeline.sync import integration_sync

    owner = next(o for o in {i.form.owner_id for i in many_integrations}
                 if sum(1 for i in many_integrations if i.form.owner_id == o) >= 3)
    first, same, other = [i for i in many_integrations if i.form.owner_id == owner][:3]
    # Each takes only some of its form's lead types (`leadsync enable --lead-type`).
    Integration.objects.filter(pk__in=[first.pk, same.pk]).update(lead_types=["EVENT"])
    Integration.objects.filter(pk=other.pk).update(lead_types=["COMPANY"])
    first.refresh_from_db()
    run = integration_sync(integration=first)
    assert run.state == SyncRun.State.SUCCEEDED
    assert SyncRun.objects.get(integration=same).state == SyncRun.State.SUCCEEDED  # joined: one query for both
    assert not SyncRun.objects.filter(integration=other).exists()  # left to its own tick
    urn = first.form.owner.urn
    assert {t for o, t in finder_calls if o == urn} == {"EVENT"}
    assert finder_calls[(urn, "EVENT")] == 1
