"""Crash-safe locks and runs (LGF-107, LGF-110), over real HTTP against the sandbox: a killed sync
holds its integration back for at most the lock's two-minute lease and its run is closed as
interrupted by the next one; a sync that lost its lock stops; one busy integration never stops the
others; a lead's attempt is recorded before its create is sent, so a create whose answer died with
the process is looked up, not sent twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.crm.client import CrmClient
from connectors.models import LeadForm
from leads.models import Lead, SyncRun
from leads.pipeline import locks, push
from mappings.models import Integration
from sandbox.crm.models import CrmCall, CrmLead

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Killed(BaseException):
    """The process dies here (a SIGKILL: nothing below it runs, no except clause catches it)."""


def killed_holding_the_lock(integration, *, lease_left):
    """What a SIGKILLed sync leaves: its lock, with `lease_left` of its lease, and its run "running"."""
    Integration.objects.filter(pk=integration.pk).update(locked_until=timezone.now() + lease_left, lock_token="dead")
    return SyncRun.objects.create(integration=integration, trigger="schedule", state="running",
                                  started_at=timezone.now() - timedelta(minutes=1))


def test_the_lease_is_two_minutes(event_integration):
    token = locks.integration_lock_acquire(integration=event_integration)
    left = Integration.objects.get(pk=event_integration.pk).locked_until - timezone.now()
    locks.integration_lock_release(integration=event_integration, token=token)
    assert timedelta(seconds=110) < left <= timedelta(seconds=120)


def test_a_killed_sync_holds_its_integration_back_only_until_its_lease_ends(cli, event_integration):
    form_id = event_integration.form.linkedin_id
    dead_run = killed_holding_the_lock(event_integration, lease_left=timedelta(seconds=90))

    held = cli("sync", form_id, "--json")
    assert held.code == 1 and "another sync of it is running" in held.json["error"]

    Integration.objects.filter(pk=event_integration.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    result = cli("sync", form_id, "--days", "90", "--json")

    assert result.code == 0, result.out + result.err
    dead_run.refresh_from_db()
    assert dead_run.state == "failed" and dead_run.error.startswith("interrupted") and dead_run.finished_at
    assert not SyncRun.objects.filter(state="running").exists()


def test_one_busy_integration_never_stops_the_sync_of_the_others(cli, event_integration):
    other = LeadForm.objects.filter(event__isnull=False).exclude(pk=event_integration.form_id).first()
    assert cli("enable", other.linkedin_id, "--crm", "crm").code == 0
    token = locks.integration_lock_acquire(integration=event_integration)
    try:
        result = cli("sync", "--days", "90", "--json")
    finally:
        locks.integration_lock_release(integration=event_integration, token=token)

    assert result.code == 0, result.out + result.err
    assert [b["form_id"] for b in result.json["busy"]] == [event_integration.form.linkedin_id]
    [run] = result.json["runs"]
    assert run["form_id"] == other.linkedin_id and run["state"] == "succeeded" and run["pulled"] > 0


def test_a_sync_whose_lock_was_taken_over_stops_instead_of_pushing_beside_the_new_holder(cli, event_integration,
                                                                                       monkeypatch):
    original = push.Pusher.steps  # every batch, pushed during the pull or after it

    def taken_over(self, leads):
        Integration.objects.filter(pk=self.integration.pk).update(lock_token="another-sync")
        return original(self, leads)

    monkeypatch.setattr(push.Pusher, "steps", taken_over)
    result = cli("sync", "--days", "90", "--json")

    assert result.code == 1 and "its lock ran out and another sync took it over" in result.json["error"]
    assert not CrmLead.objects.exists(), "nothing was sent once the lock was gone"


def test_a_create_whose_answer_died_with_the_process_is_looked_up_not_sent_twice(cli, event_integration,
                                                                                monkeypatch):
    original = CrmClient.create_leads

    def create_then_die(self, objects):
        original(self, objects)  # the CRM created them; the answer never reaches LeadSync
        raise Killed()

    monkeypatch.setattr(CrmClient, "create_leads", create_then_die)
    with pytest.raises(Killed):
        cli("sync", "--days", "90")
    monkeypatch.undo()
    created = CrmLead.objects.count()
    assert created > 0 and Lead.objects.filter(state="pending", attempts=1, create_sent_at__isnull=False).exists(), \
        "the attempt and the moment the create was sent were recorded first"
    Integration.objects.filter(pk=event_integration.pk).update(locked_until=timezone.now() - timedelta(seconds=1))

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    emails = list(CrmLead.objects.values_list("email_lower", flat=True))
    assert len(emails) == len(set(emails)) == created, "no lead was created twice"
    assert not Lead.objects.filter(state="pending").exists()
    assert CrmCall.objects.filter(method="getLeadsDateRange").count() == 1, "the unanswered creates: one read"
    assert not CrmCall.objects.filter(method="getLeads").exists(), "not one look-up per e-mail"
    assert not Lead.objects.filter(create_sent_at__isnull=False).exists()
    assert SyncRun.objects.filter(state="failed", error__startswith="interrupted").count() == 1
