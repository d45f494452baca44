"""Lead notifications over real HTTP: the sandbox LinkedIn validates the webhook with its
challenge, then POSTs signed notifications to /linkedin/webhook/ on the live server as leads are
submitted and deleted. Tasks run eagerly, inside the webhook's request, so a lead reaches the
sandbox CRM with no sync run at all."""

import json

import pytest
import requests

from connectors.subscriptions import lead_notifications_subscribe, lead_notifications_unsubscribe
from leads.models import Lead, LeadNotification, SyncRun
from sandbox.crm.models import CrmLead
from sandbox.linkedin import models as li
from sandbox.linkedin.services import lead_delete, lead_submit
from sandbox.linkedin.webhooks import deliver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def eager(settings):
    """`.delay` runs the task inline (the live server is multi-threaded, so the task's own calls
    to the sandbox are served while the webhook request waits)."""
    from leadsync_project.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def webhook_url(event_integration, sandbox, eager):
    """The live server's webhook, subscribed for the enabled form's owner; the sandbox checks it
    with LinkedIn's challenge before it accepts the subscription."""
    switches = li.SandboxSettings.load()
    switches.validate_webhooks = True
    switches.save()
    url = f"{sandbox.url}/linkedin/webhook/"
    assert lead_notifications_subscribe(form=event_integration.form, webhook_url=url)
    return url


def sandbox_form(integration):
    return li.LeadForm.objects.get(pk=int(integration.form.linkedin_id))


def test_subscribing_twice_reuses_the_subscriptions_and_unsubscribing_twice_is_fine(event_integration, sandbox):
    url = f"{sandbox.url}/linkedin/webhook/"
    first = lead_notifications_subscribe(form=event_integration.form, webhook_url=url)
    again = lead_notifications_subscribe(form=event_integration.form, webhook_url=url)
    assert first == again
    assert len(first) == len(event_integration.form.lead_types)
    assert li.LeadNotification.objects.filter(webhook=url).count() == len(first)

    connection = event_integration.form.owner.connection
    lead_notifications_unsubscribe(connection=connection, ids=first)
    assert not li.LeadNotification.objects.filter(webhook=url).exists()
    lead_notifications_unsubscribe(connection=connection, ids=first)  # already gone: fine


def test_a_submitted_lead_reaches_the_crm_without_a_sync(event_integration, webhook_url):
    crm_before = CrmLead.objects.count()
    submitted = lead_submit(sandbox_form(event_integration))

    assert [d.status_code for d in submitted.deliveries] == [200], [d.error for d in submitted.deliveries]
    lead = Lead.objects.get(linkedin_id=submitted.id)
    assert lead.state == "synced" and lead.crm_id
    crm_lead = CrmLead.objects.get(lead_id=int(lead.crm_id))
    assert crm_lead.email_lower == lead.email.lower()
    assert CrmLead.objects.count() == crm_before + 1
    notification = LeadNotification.objects.get(lead_id=submitted.id)
    assert notification.action == "CREATED" and notification.state == "processed"
    assert set(SyncRun.objects.values_list("trigger", flat=True)) == {"webhook"}


def test_a_notification_delivered_twice_makes_one_lead_and_one_crm_record(event_integration, webhook_url):
    submitted = lead_submit(sandbox_form(event_integration))
    crm_after_first = CrmLead.objects.count()
    [first] = submitted.deliveries

    again = deliver(webhook=webhook_url, payload=json.loads(first.payload))

    assert again.status_code == 200
    assert Lead.objects.filter(linkedin_id=submitted.id).count() == 1
    assert LeadNotification.objects.filter(lead_id=submitted.id).count() == 1
    assert CrmLead.objects.count() == crm_after_first


def test_a_deleted_lead_is_scrubbed_and_its_crm_record_kept_by_default(event_integration, webhook_url):
    submitted = lead_submit(sandbox_form(event_integration))
    lead_id = submitted.id  # the sandbox forgets it once the lead is deleted
    lead = Lead.objects.get(linkedin_id=lead_id)
    crm_id = lead.crm_id

    [delivery] = lead_delete(submitted)

    assert delivery.status_code == 200
    lead.refresh_from_db()
    assert lead.state == "deleted"
    assert lead.raw == {"id": lead_id, "deleted": True}
    assert (lead.answers, lead.email, lead.field_outcomes) == ({}, "", [])
    assert LeadNotification.objects.get(lead_id=lead_id, action="DELETED").state == "processed"
    assert CrmLead.objects.filter(lead_id=int(crm_id)).exists()


def test_an_integration_set_to_crm_deletes_the_crm_record_too(event_integration, webhook_url, cli):
    assert cli("configure", event_integration.form.linkedin_id, "--on-delete", "crm").code == 0
    submitted = lead_submit(sandbox_form(event_integration))
    lead_id = submitted.id
    crm_id = Lead.objects.get(linkedin_id=lead_id).crm_id

    lead_delete(submitted)

    assert Lead.objects.get(linkedin_id=lead_id).state == "deleted"
    assert not CrmLead.objects.filter(lead_id=int(crm_id)).exists()


def test_each_integration_reacts_to_a_deletion_as_it_was_enabled_to(event_integration, webhook_url, cli):
    """Two forms of one owner: one enabled with --on-delete crm, the other left "local"."""
    from connectors.models import LeadForm
    from mappings.models import Integration

    other = (LeadForm.objects.filter(owner=event_integration.form.owner, event__isnull=False)
             .exclude(pk=event_integration.form_id).first())
    assert cli("enable", other.linkedin_id, "--crm", "crm", "--on-delete", "crm").code == 0
    crm_side = Integration.objects.get(form=other)
    assert (crm_side.on_linkedin_delete, event_integration.on_linkedin_delete) == ("crm", "local")
    kept, gone = lead_submit(sandbox_form(event_integration)), lead_submit(sandbox_form(crm_side))
    kept_id, gone_id = kept.id, gone.id
    crm_ids = {i: Lead.objects.get(linkedin_id=i).crm_id for i in (kept_id, gone_id)}
    assert all(crm_ids.values()), "both leads reached the CRM"

    lead_delete(kept)
    lead_delete(gone)

    assert Lead.objects.get(linkedin_id=kept_id).state == Lead.objects.get(linkedin_id=gone_id).state == "deleted"
    assert CrmLead.objects.filter(lead_id=int(crm_ids[kept_id])).exists()
    assert not CrmLead.objects.filter(lead_id=int(crm_ids[gone_id])).exists()


def test_a_notification_for_a_form_without_an_integration_is_ignored(event_integration, webhook_url):
    form = sandbox_form(event_integration)
    other = (li.LeadForm.objects.filter(organization_id=form.organization_id, lead_type=form.lead_type,
                                        versions__isnull=False).exclude(pk=form.pk).distinct().first())
    assert other is not None, "the seed has a second form of the same organization"
    crm_before = CrmLead.objects.count()

    submitted = lead_submit(other)

    assert [d.status_code for d in submitted.deliveries] == [200]
    notification = LeadNotification.objects.get(lead_id=submitted.id)
    assert notification.state == "ignored" and str(other.pk) in notification.error
    assert not Lead.objects.filter(linkedin_id=submitted.id).exists()
    assert CrmLead.objects.count() == crm_before


def test_a_forged_notification_is_refused_over_http(webhook_url):
    body = json.dumps({"type": "LEAD_ACTION", "leadAction": "CREATED"}).encode()
    response = requests.post(webhook_url, data=body, headers={"X-LI-Signature": "0" * 64}, timeout=5)
    assert response.status_code == 401
    assert not LeadNotification.objects.exists()


def test_a_lead_on_an_earlier_form_version_is_read_with_that_version(event_integration, webhook_url):
    form = sandbox_form(event_integration)
    v1 = form.versions.order_by("version").first()
    assert v1.version < form.latest_version.version, "the seed gives this form two versions"
    submitted = lead_submit(form, version=v1)
    lead = Lead.objects.get(linkedin_id=submitted.id)
    options = {q["questionId"]: {o["id"]: next(iter(o["text"]["localized"].values()))
                                 for o in q["questionDetails"]["multipleChoiceQuestionDetails"]["options"]}
               for q in v1.questions if "multipleChoiceQuestionDetails" in q["questionDetails"]}
    checked = 0
    for answer in submitted.answers:
        if "options" in answer and answer["options"]:
            stored = lead.answers["answers"][str(answer["questionId"])]["value"]
            assert stored == [options[answer["questionId"]][i] for i in answer["options"]]
            checked += 1
    assert checked, "the generated answers should include a multiple-choice one"
