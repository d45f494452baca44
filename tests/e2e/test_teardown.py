"""LGF-108: tear an integration down (schedule and subscriptions gone, data kept or purged) and
recreate it from its saved mapping, resuming without duplicates; from the CLI and the admin."""

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from leads.models import Lead, SyncRun
from mappings.models import FieldMapping, Integration
from sandbox.crm.models import CrmLead
from sandbox.linkedin import models as li
from sandbox.linkedin.services import lead_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def submit(integration, n=1):
    form = li.LeadForm.objects.get(pk=int(integration.form.linkedin_id))
    return [lead_submit(form, notify=False) for _ in range(n)]


def test_teardown_keeps_the_data_and_recreate_resumes_without_duplicates(cli, event_integration):
    form_id = event_integration.form.linkedin_id
    assert cli("sync", "--days", "90").code == 0
    leads_before, crm_before = Lead.objects.count(), CrmLead.objects.count()
    mapping_before = list(FieldMapping.objects.filter(integration=event_integration).values_list("source_key", "crm_field"))
    event_integration.crm_connection.refresh_from_db()

    result = cli("teardown", form_id, "--json")
    assert result.code == 0, result.out + result.err
    event_integration.refresh_from_db()
    assert event_integration.state == "torn_down" and event_integration.periodic_task_id is None
    assert not PeriodicTask.objects.filter(task="leads.sync_integration").exists()
    assert Lead.objects.count() == leads_before
    assert cli("sync", form_id).code == 2  # no live integration to sync

    submit(event_integration, 3)  # leads keep arriving on LinkedIn meanwhile

    result = cli("recreate", form_id, "--json")
    assert result.code == 0, result.out + result.err
    assert result.json["leads_kept"] == leads_before
    event_integration.refresh_from_db()
    assert event_integration.state == "active"
    assert PeriodicTask.objects.get(pk=event_integration.periodic_task_id).enabled
    assert list(FieldMapping.objects.filter(integration=event_integration).values_list("source_key", "crm_field")) == mapping_before
    assert Integration.objects.count() == 1  # the same integration, not a copy
    assert event_integration.recreated_at is not None

    from leads.ops.signoff.checks import signoff_report

    [lgf_108] = [line for line in signoff_report()["lines"] if line["id"] == "LGF-108"]
    assert lgf_108["status"] == "pass" and any("recreated" in e for e in lgf_108["evidence"])

    result = cli("sync", "--json")
    assert result.code == 0
    [run] = result.json["runs"]
    assert run["new"] == 3 and run["created"] + run["updated"] == 3
    assert CrmLead.objects.count() <= crm_before + 3
    emails = list(CrmLead.objects.values_list("email_lower", flat=True))
    assert len(emails) == len(set(emails))


def test_teardown_with_purge_deletes_the_stored_leads_and_recreate_creates_no_duplicate(cli, event_integration):
    form_id = event_integration.form.linkedin_id
    assert cli("sync", "--days", "90").code == 0
    crm_before = CrmLead.objects.count()

    result = cli("teardown", form_id, "--purge", "--json")
    assert result.code == 0
    assert result.json["purged"]["leads"] > 0
    assert not Lead.objects.exists() and not SyncRun.objects.exists()
    assert FieldMapping.objects.filter(integration=event_integration).exists()  # the mapping stays

    assert cli("recreate", form_id).code == 0
    assert cli("sync", "--days", "90").code == 0  # everything is pulled and pushed again...
    assert CrmLead.objects.count() == crm_before  # ...and matched by e-mail: nothing doubled


def test_recreate_needs_a_torn_down_integration(cli, event_integration):
    result = cli("recreate", event_integration.form.linkedin_id, "--json")
    assert result.code == 1 and "already has a live integration" in result.json["error"]


def test_teardown_and_recreate_from_the_admin(admin_client, event_integration):
    url = reverse("admin:mappings_integration_changelist")
    response = admin_client.post(url, {"action": "tear_down", "_selected_action": [event_integration.pk]}, follow=True)
    assert "Tore down 1 integration" in response.content.decode()
    event_integration.refresh_from_db()
    assert event_integration.state == "torn_down"
    response = admin_client.post(url, {"action": "recreate", "_selected_action": [event_integration.pk]}, follow=True)
    assert "Recreated 1 integration" in response.content.decode()
    event_integration.refresh_from_db()
    assert event_integration.state == "active" and event_integration.periodic_task_id


def test_sync_now_and_retry_from_the_admin(admin_client, event_integration, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from leadsync_project.celery import app

    app.conf.task_always_eager = True
    try:
        url = reverse("admin:mappings_integration_changelist")
        response = admin_client.post(url, {"action": "sync_now", "_selected_action": [event_integration.pk]}, follow=True)
        assert "Queued a sync of 1 integration" in response.content.decode()
        run = SyncRun.objects.get()
        assert run.trigger == "manual" and run.state == "succeeded" and run.created > 0

        lead = Lead.objects.filter(state="synced").first()
        Lead.objects.filter(pk=lead.pk).update(state="failed", last_error="CRM said no")
        response = admin_client.post(reverse("admin:leads_lead_changelist"),
                                     {"action": "retry", "_selected_action": [lead.pk]}, follow=True)
        assert "Queued a retry of 1 failed lead" in response.content.decode()
        lead.refresh_from_db()
        assert lead.state == "synced"
        assert SyncRun.objects.filter(trigger="retry", state="succeeded").exists()
    finally:
        app.conf.task_always_eager = False


def test_enable_subscribes_teardown_unsubscribes_and_shared_subscriptions_are_kept(cli, event_integration, sandbox, settings):
    """Subscriptions are per owner: two forms of one organization share them, so tearing one
    integration down keeps them for the other; the last one deletes them; recreate subscribes again."""
    from connectors.models import LeadForm

    settings.LEADSYNC_WEBHOOK_URL = f"{sandbox.url}/linkedin/webhook/"
    first_form = event_integration.form
    second_form = LeadForm.objects.filter(owner=first_form.owner, event__isnull=False).exclude(pk=first_form.pk).first()
    assert cli("teardown", first_form.linkedin_id).code == 0  # made before the webhook URL was set
    assert cli("recreate", first_form.linkedin_id).code == 0
    assert cli("enable", second_form.linkedin_id, "--crm", "crm").code == 0
    first = Integration.objects.get(form=first_form)
    second = Integration.objects.get(form=second_form)
    assert first.webhook_subscriptions and set(first.webhook_subscriptions) == set(second.webhook_subscriptions)
    subscribed = li.LeadNotification.objects.filter(webhook=settings.LEADSYNC_WEBHOOK_URL)
    assert subscribed.count() == len(first.webhook_subscriptions)

    assert cli("teardown", first_form.linkedin_id).code == 0
    assert subscribed.count() == len(second.webhook_subscriptions), "still needed by the second form"
    assert cli("teardown", second_form.linkedin_id).code == 0
    assert not subscribed.exists()
    assert cli("recreate", second_form.linkedin_id).code == 0
    assert subscribed.exists()


def test_a_lead_deleted_on_linkedin_is_not_stored_again_by_a_pull(cli, event_integration):
    from leads.models import LeadNotification

    lead = submit(event_integration)[0]
    LeadNotification.objects.create(lead_urn=f"urn:li:leadGenFormResponse:{lead.pk}", lead_id=lead.pk,
                                     action="DELETED", payload={})
    assert cli("sync", "--days", "1").code == 0
    assert not Lead.objects.filter(linkedin_id=lead.pk).exists()


def test_teardown_stops_a_running_sync_instead_of_waiting_for_it(cli, event_integration):
    from leads.pipeline import locks

    running = locks.IntegrationLock(event_integration, locks.integration_lock_acquire(integration=event_integration))

    result = cli("teardown", event_integration.form.linkedin_id, "--json")

    assert result.code == 0 and result.json["stopped_sync"] is True, result.out + result.err
    assert Integration.objects.get(pk=event_integration.pk).state == Integration.State.TORN_DOWN
    assert not PeriodicTask.objects.filter(name__contains=f"integration {event_integration.pk}").exists()
    with pytest.raises(locks.LockLost, match="torn down while it ran"):
        running.renew()  # the running sync's next page or CRM call: it stops there
    assert Integration.objects.get(pk=event_integration.pk).locked_until is None, "the teardown let go"


def test_a_purge_waits_for_the_stopped_sync_to_end_before_deleting(cli, event_integration, monkeypatch):
    from leads import integrations
    from leads.pipeline import locks

    assert cli("sync", "--days", "90").code == 0
    locks.integration_lock_acquire(integration=event_integration)
    run = SyncRun.objects.create(integration=event_integration, trigger="schedule", state="running")
    waits = []

    def the_sync_ends(seconds):  # what the stopped sync does meanwhile: it ends its run
        waits.append(seconds)
        SyncRun.objects.filter(pk=run.pk).update(state="failed", error="stopped")

    monkeypatch.setattr(integrations, "_sleep", the_sync_ends)
    result = cli("teardown", event_integration.form.linkedin_id, "--purge", "--json")

    assert result.code == 0 and result.json["stopped_sync"] and result.json["purged"]["leads"] > 0
    assert waits == [0.5], "it waited for the run to end, once"
    assert not Lead.objects.exists() and not SyncRun.objects.exists()


def test_a_purge_behind_a_dead_holder_waits_no_longer_than_its_lease(cli, event_integration, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from leads import integrations

    assert cli("sync", "--days", "90").code == 0
    Integration.objects.filter(pk=event_integration.pk).update(locked_until=timezone.now() + timedelta(seconds=30),
                                                               lock_token="dead")
    SyncRun.objects.create(integration=event_integration, trigger="schedule", state="running")
    clock = {"now": timezone.now()}
    waits = []

    def time_passes(seconds):  # nothing ends the dead holder's run: only its lease does
        waits.append(seconds)
        clock["now"] += timedelta(seconds=10)

    monkeypatch.setattr(integrations, "_sleep", time_passes)
    monkeypatch.setattr(integrations.timezone, "now", lambda: clock["now"])
    result = cli("teardown", event_integration.form.linkedin_id, "--purge", "--json")

    assert result.code == 0 and result.json["purged"]["runs"] >= 2
    assert 3 <= len(waits) <= 4, "it waited out the 30 s left of the dead holder's lease, and no longer"
