"""LinkedIn lead notifications: the challenge, every accepted signature reading, what is refused
(and that nothing is kept then), deduplication, and what processing does with CREATED and DELETED
notifications, against fake LinkedIn and CRM clients."""

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone

from connectors.crm.client import ObjectResult
from connectors.exceptions import NotFound, ServerError
from leads import tasks, webhooks
from leads.models import Lead, LeadNotification, SyncRun
from leads.pipeline.locks import integration_lock_acquire, integration_lock_release
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SECRET = "test-client-secret"
URL = "/linkedin/webhook/"


@pytest.fixture(autouse=True)
def client_secret(settings):
    settings.LINKEDIN_CLIENT_SECRET = SECRET


def hex_hmac(message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def payload(lead_id="abc-123-5", action="CREATED", form_id="1001", **extra):
    return {
        "type": "LEAD_ACTION",
        "leadGenFormResponse": f"urn:li:leadGenFormResponse:{lead_id}",
        "leadGenForm": f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{form_id}, 1)",
        "owner": {"organization": "urn:li:organization:123"},
        "associatedEntity": {"event": "urn:li:event:789"},
        "leadType": "EVENT",
        "leadAction": action,
        "occurredAt": 1686182358881,
        **extra,
    }


def body_of(data) -> bytes:
    return json.dumps(data).encode()


@pytest.fixture
def queued(monkeypatch):
    """The ids the view queued for processing (the task itself is not run)."""
    ids = []

    class FakeTask:
        @staticmethod
        def delay(notification_id):
            ids.append(notification_id)

    monkeypatch.setattr("leads.views.process_lead_notification", FakeTask)
    return ids


def post(client, body: bytes, signature=None):
    headers = {"HTTP_X_LI_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, data=body, content_type="application/json", **headers)


# --- the challenge ------------------------------------------------------------------------------

def test_the_url_is_the_contract_path():
    assert reverse("linkedin_webhook") == URL


def test_challenge_is_answered_with_the_hmac_of_the_code(client):
    response = client.get(URL, {"challengeCode": "890e4665-4dfe-4ab1-b689-ee0a9ad4bd5f"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "challengeCode": "890e4665-4dfe-4ab1-b689-ee0a9ad4bd5f",
        "challengeResponse": hex_hmac(b"890e4665-4dfe-4ab1-b689-ee0a9ad4bd5f"),
    }


def test_challenge_without_a_code_is_a_bad_request(client):
    assert client.get(URL).status_code == 400


def test_other_methods_are_not_allowed(client):
    assert client.put(URL, data=b"{}").status_code == 405
    assert client.delete(URL).status_code == 405


def test_without_a_client_secret_the_endpoint_says_it_is_not_configured(client, settings):
    settings.LINKEDIN_CLIENT_SECRET = ""
    assert client.get(URL, {"challengeCode": "x"}).status_code == 503
    body = body_of(payload())
    assert post(client, body, hex_hmac(body)).status_code == 503
    assert not LeadNotification.objects.exists()


# --- signatures -----------------------------------------------------------------------------------

SIGNATURES = {
    "hex HMAC of 'hmacsha256=' + body": lambda body: hex_hmac(b"hmacsha256=" + body),
    "'hmacsha256=' + hex HMAC of the body": lambda body: "hmacsha256=" + hex_hmac(body),
    "hex HMAC of the body (the sandbox)": lambda body: hex_hmac(body),
    "upper-case hex": lambda body: hex_hmac(body).upper(),
}


@pytest.mark.parametrize("reading", SIGNATURES)
def test_every_reading_of_the_signature_is_accepted(client, queued, django_capture_on_commit_callbacks, reading):
    body = body_of(payload())
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, SIGNATURES[reading](body))
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "accepted"}
    notification = LeadNotification.objects.get()
    assert queued == [notification.pk]
    assert (notification.lead_id, notification.action, notification.form_id) == ("abc-123-5", "CREATED", "1001")
    assert notification.lead_urn == "urn:li:leadGenFormResponse:abc-123-5"
    assert notification.owner_urn == "urn:li:organization:123" and notification.lead_type == "EVENT"
    assert notification.occurred_at == datetime(2023, 6, 7, 23, 59, 18, 881000, tzinfo=dt_timezone.utc)
    assert notification.payload == payload() and notification.state == "received"


@pytest.mark.parametrize("signature", [
    None, "", "hmacsha256=", "0" * 64, hmac.new(b"another-secret", b"x", hashlib.sha256).hexdigest(),
])
def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_kept(client, queued, caplog, signature):
    body = body_of(payload(email="ada@example.com"))
    with caplog.at_level(logging.WARNING, logger="leads.views"):
        response = post(client, body, signature)
    assert response.status_code == 401
    assert not LeadNotification.objects.exists() and not queued
    assert "discarded" in caplog.text
    assert "ada@example.com" not in caplog.text and "abc-123-5" not in caplog.text


def test_a_signature_of_another_body_is_refused(client, queued):
    body = body_of(payload())
    other = body_of(payload(lead_id="other-5"))
    assert post(client, body, hex_hmac(other)).status_code == 401
    assert not LeadNotification.objects.exists()


def test_signature_valid_directly():
    body = b'{"a": 1}'
    assert webhooks.signature_valid(body, "hmacsha256=" + hex_hmac(body))
    assert not webhooks.signature_valid(body, None)
    assert not webhooks.signature_valid(body, "hmacsha256=" + hex_hmac(body + b" "))


# --- malformed bodies and duplicates ------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[1, 2]",
    body_of({**payload(), "type": "SOMETHING_ELSE"}),
    body_of({**payload(), "leadAction": "UPDATED"}),
    body_of({**payload(), "leadGenFormResponse": "urn:li:sponsoredCreative:1"}),
    body_of({**payload(), "leadGenFormResponse": None}),
    body_of({**payload(), "leadGenForm": "form 12"}),
    body_of({**payload(), "owner": {"organization": "not-a-urn"}}),
    body_of({**payload(), "leadType": ""}),
    body_of({**payload(), "occurredAt": "yesterday"}),
    body_of({**payload(), "leadGenFormResponse": "urn:li:leadGenFormResponse:" + "x" * 300}),
])
def test_a_signed_body_that_is_not_a_lead_notification_is_a_clear_400(client, queued, body):
    response = post(client, body, hex_hmac(body))
    assert response.status_code == 400
    assert response.json()["error"]
    assert not LeadNotification.objects.exists() and not queued


def test_a_notification_delivered_twice_is_kept_and_queued_once(client, queued, django_capture_on_commit_callbacks):
    body = body_of(payload())
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, body, hex_hmac(body))
    LeadNotification.objects.update(state="processed")
    # LinkedIn's retry may serialise the same notification differently.
    again = json.dumps(payload(), indent=1).encode()
    with django_capture_on_commit_callbacks(execute=True):
        second = post(client, again, hex_hmac(again))
    assert first.json() == {"status": "accepted"} and second.json() == {"status": "duplicate"}
    assert LeadNotification.objects.count() == 1 and len(queued) == 1


def test_a_duplicate_of_a_notification_still_waiting_is_queued_again(client, queued, django_capture_on_commit_callbacks):
    """Its first queueing may have failed (the broker was down, LinkedIn got an error and retries)."""
    body = body_of(payload())
    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, hex_hmac(body))
        second = post(client, body, hex_hmac(body))
    assert second.json() == {"status": "duplicate"}
    assert LeadNotification.objects.count() == 1 and len(queued) == 2


def test_created_and_deleted_of_one_lead_are_two_notifications():
    webhooks.notification_receive(body_of(payload(action="CREATED")))
    _, created = webhooks.notification_receive(body_of(payload(action="DELETED")))
    _, again = webhooks.notification_receive(body_of(payload(action="DELETED")))
    assert created and not again
    assert LeadNotification.objects.count() == 2


def _nested(depth):
    return b'{"type": "LEAD_ACTION", "x": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_BODIES = {
    "nested far too deep": _nested(20_000),
    "nested deeper than any notification": _nested(200),
    "NaN": body_of(payload())[:-1] + b', "score": NaN}',
    "Infinity": body_of(payload())[:-1] + b', "score": -Infinity}',
    "a lone surrogate": body_of(payload())[:-1] + b', "name": "\\ud800"}',
    "a NUL character": body_of(payload())[:-1] + b', "name": "a\\u0000b"}',
    "a surrogate in a key": body_of(payload())[:-1] + b', "\\udfff": 1}',
    "not UTF-8": body_of(payload())[:-1] + b', "name": "\xff\xfe"}',
}


@pytest.mark.parametrize("what", sorted(HOSTILE_BODIES))
def test_a_signed_body_the_database_could_not_keep_is_refused_with_a_4xx_and_stores_nothing(client, queued, what):
    body = HOSTILE_BODIES[what]
    response = post(client, body, hex_hmac(body))
    assert response.status_code == 400, (what, response.content[:200])
    assert "error" in response.json() and not LeadNotification.objects.exists() and not queued


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(client, queued, settings):
    settings.LEADSYNC_WEBHOOK_MAX_BYTES = 1000
    body = body_of(payload(padding="x" * 2000))
    response = post(client, body, hex_hmac(body))
    assert response.status_code == 413 and not LeadNotification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_cannot_take_the_task_still_gets_linkedin_a_2xx_once_stored(client, monkeypatch, caplog):
    class DeadBroker:
        @staticmethod
        def delay(notification_id):
            raise ConnectionRefusedError("redis://:hunter2@127.0.0.1:1/0")

    monkeypatch.setattr("leads.views.process_lead_notification", DeadBroker)
    body = body_of(payload())
    response = post(client, body, hex_hmac(body))
    assert response.status_code == 200 and response.json() == {"status": "accepted", "queued": False}
    assert LeadNotification.objects.get().state == "received", "stored: the sweeper processes it"
    assert "hunter2" not in caplog.text


# --- processing ---------------------------------------------------------------------------------

class FakeLinkedIn:
    def __init__(self, elements=None, error=None):
        self.elements = elements or {}
        self.error = error
        self.fetched = []

    def lead_form_response(self, lead_id):
        self.fetched.append(lead_id)
        if self.error:
            raise self.error
        return self.elements[lead_id]


class FakeCrm:
    def __init__(self, result=None):
        self.deleted = []
        self.result = result

    def delete_leads(self, ids):
        self.deleted.append(list(ids))
        return [self.result or ObjectResult(0, True, ids[0])]


@pytest.fixture
def integration():
    org = factories.owner(urn="urn:li:organization:123")
    return factories.integration(form=factories.lead_form(org, linkedin_id="1001"))


def lead_element(lead_id="abc-123-5", form_id="1001", *, test=False, email="ada@example.com"):
    return {
        "id": lead_id,
        "leadType": "EVENT",
        "owner": {"organization": "urn:li:organization:123"},
        "versionedLeadGenFormUrn": f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{form_id},1)",
        "submitter": "urn:li:person:MpGcnvaU_p",
        "submittedAt": int((timezone.now() - timedelta(minutes=1)).timestamp() * 1000),
        "testLead": test,
        "formResponse": {
            "answers": [
                {"questionId": 1, "answerDetails": {"textQuestionAnswer": {"answer": "Ada"}}},
                {"questionId": 2, "answerDetails": {"textQuestionAnswer": {"answer": email}}},
            ],
            "consentResponses": [],
        },
    }


@pytest.fixture
def linkedin(monkeypatch):
    fake = FakeLinkedIn({"abc-123-5": lead_element()})
    monkeypatch.setattr(webhooks, "linkedin_client", lambda connection: fake)
    return fake


@pytest.fixture
def pushed(monkeypatch):
    """Records what would be pushed and marks it synced, as a CRM that accepts everything would."""
    calls = []

    def fake_push(*, integration, leads_qs, run=None, lock=None):
        leads = list(leads_qs)
        calls.append((integration.pk, [lead.linkedin_id for lead in leads], run))
        for n, lead in enumerate(leads):
            Lead.objects.filter(pk=lead.pk).update(state="synced", crm_id=str(9000 + n), synced_at=timezone.now())

    monkeypatch.setattr(webhooks, "leads_push", fake_push)
    return calls


@pytest.fixture
def crm(monkeypatch):
    fake = FakeCrm()
    monkeypatch.setattr("leads.people.crm_client", lambda connection: fake)
    return fake


def receive(**kwargs):
    notification, _ = webhooks.notification_receive(body_of(payload(**kwargs)))
    return notification


def test_created_stores_the_lead_and_pushes_only_it(integration, linkedin, pushed):
    factories.lead(integration, state="pending")  # another pending lead: the next sync's business
    notification = webhooks.notification_process(notification=receive())

    assert notification.state == "processed" and notification.error == "" and notification.processed_at
    lead = Lead.objects.get(linkedin_id="abc-123-5")
    assert lead.integration == integration and lead.email == "ada@example.com" and lead.state == "synced"
    assert linkedin.fetched == ["abc-123-5"]
    [(integration_id, lead_ids, run)] = pushed
    assert integration_id == integration.pk and lead_ids == ["abc-123-5"]
    assert run.trigger == SyncRun.Trigger.WEBHOOK and run.state == "succeeded" and run.new == 1
    integration.refresh_from_db()
    assert integration.locked_until is None  # the lock is released


def test_created_for_a_form_without_an_active_integration_is_ignored(integration, linkedin, pushed):
    notification = webhooks.notification_process(notification=receive(form_id="4242"))
    assert notification.state == "ignored" and "No active integration for form 4242" in notification.error
    integration.state = "paused"
    integration.save()
    assert webhooks.notification_process(notification=receive(lead_id="other-5")).state == "ignored"
    assert not linkedin.fetched and not pushed and not Lead.objects.exists()


def test_created_of_a_lead_type_the_integration_does_not_take_is_ignored(integration, linkedin, pushed):
    integration.lead_types = ["COMPANY"]
    integration.save()
    assert webhooks.notification_process(notification=receive()).state == "ignored"
    assert not linkedin.fetched


def test_created_while_a_sync_runs_leaves_the_lead_pending_for_it(integration, linkedin, pushed):
    token = integration_lock_acquire(integration=integration)
    try:
        notification = webhooks.notification_process(notification=receive())
    finally:
        integration_lock_release(integration=integration, token=token)
    assert notification.state == "processed" and "pushes the lead" in notification.error
    assert Lead.objects.get(linkedin_id="abc-123-5").state == "pending"
    assert not pushed


def test_created_of_a_lead_a_sync_already_pushed_changes_nothing(integration, linkedin, pushed):
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="77")
    notification = webhooks.notification_process(notification=receive())
    assert notification.state == "processed"
    assert not linkedin.fetched and not pushed


def test_created_of_a_test_lead_is_stored_but_not_pushed(integration, linkedin, pushed):
    linkedin.elements["abc-123-5"] = lead_element(test=True)
    notification = webhooks.notification_process(notification=receive())
    assert Lead.objects.get().state == "skipped" and not pushed
    assert notification.state == "processed" and "skipped" in notification.error


def test_processing_twice_does_nothing_the_second_time(integration, linkedin, pushed):
    notification = webhooks.notification_process(notification=receive())
    webhooks.notification_process(notification=notification)
    assert len(linkedin.fetched) == 1 and len(pushed) == 1


def test_a_linkedin_failure_is_recorded_and_processing_again_recovers(integration, linkedin, pushed):
    linkedin.error = ServerError("LinkedIn GET /rest/leadFormResponses/abc-123-5: boom", status=503)
    notification = webhooks.notification_process(notification=receive())
    assert notification.state == "failed" and "boom" in notification.error
    assert not Lead.objects.exists()
    linkedin.error = None
    assert webhooks.notification_process(notification=notification).state == "processed"
    assert Lead.objects.get().state == "synced"


def test_a_lead_linkedin_no_longer_has_fails_visibly(integration, linkedin, pushed):
    linkedin.error = NotFound("LinkedIn GET /rest/leadFormResponses/abc-123-5: not found", status=404)
    notification = webhooks.notification_process(notification=receive())
    assert notification.state == "failed" and "not found" in notification.error


def test_a_connection_needing_reauthorisation_fails_the_notification(integration, pushed):
    connection = integration.form.owner.connection
    connection.status = "needs_reauth"
    connection.last_error = "The refresh token expired."
    connection.save()
    notification = webhooks.notification_process(notification=receive())
    assert notification.state == "failed" and "re-authorisation" in notification.error
    assert connection.access_token not in notification.error


def test_deleted_scrubs_the_lead_and_keeps_the_crm_record_by_default(integration, crm):
    lead = factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501",
                          raw=lead_element(), answers={"answers": {"2": {"value": "ada@example.com"}}},
                          field_outcomes=[{"field": "emailAddress", "value": "ada@example.com"}],
                          submitter_urn="urn:li:person:MpGcnvaU_p")
    notification = webhooks.notification_process(notification=receive(action="DELETED"))

    assert notification.state == "processed"
    lead.refresh_from_db()
    assert lead.state == "deleted"
    assert lead.raw == {"id": "abc-123-5", "deleted": True}
    assert (lead.answers, lead.email, lead.field_outcomes, lead.submitter_urn) == ({}, "", [], None)
    assert lead.crm_id == "501"  # kept, so the CRM record can still be found
    assert not crm.deleted


def crm_on_delete(integration):
    integration.on_linkedin_delete = "crm"
    integration.save(update_fields=["on_linkedin_delete"])


def test_an_integration_set_to_crm_deletes_the_crm_record(integration, crm):
    crm_on_delete(integration)
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501")
    notification = webhooks.notification_process(notification=receive(action="DELETED"))
    assert notification.state == "processed" and notification.error == ""
    assert crm.deleted == [["501"]]


def test_a_linkedin_deletion_is_audited_without_the_person(integration, crm):
    from leads.models import PersonRequest
    from leads.people import email_digest

    crm_on_delete(integration)
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501", email="Ada@Example.com")
    webhooks.notification_process(notification=receive(action="DELETED"))

    row = PersonRequest.objects.get()
    assert (row.kind, row.via, row.requested_by, row.leads, row.crm_requested, row.crm_deleted) == \
        ("linkedin_deleted", "linkedin", "linkedin", 1, True, 1)
    assert row.email_digest == email_digest("ada@example.com")
    assert not any("ada@" in str(f.value_from_object(row)).lower() for f in row._meta.concrete_fields)


def test_a_refused_crm_deletion_is_audited_as_failed(integration, crm):
    from leads.models import PersonRequest

    crm_on_delete(integration)
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501")
    crm.result = ObjectResult(0, False, "501", 999, "Locked record")
    assert webhooks.notification_process(notification=receive(action="DELETED")).state == "failed"
    row = PersonRequest.objects.get()
    assert (row.outcome, row.crm_failed, row.leads) == ("failed", 1, 1) and "Locked record" in row.error


def test_the_global_setting_is_only_the_default_of_new_integrations(integration, crm, settings):
    assert integration.on_linkedin_delete == "local"
    settings.LEADSYNC_DELETE_CRM_LEADS = True  # too late for this integration: it chose "local"
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501")
    assert webhooks.notification_process(notification=receive(action="DELETED")).state == "processed"
    assert not crm.deleted
    assert factories.integration().on_linkedin_delete == "crm", "a new integration takes the setting"


def test_the_lead_s_own_integration_decides_even_once_torn_down(integration, crm):
    crm_on_delete(integration)
    integration.state = "torn_down"
    integration.save(update_fields=["state"])
    successor = factories.integration(form=integration.form)  # the form's live integration says "local"
    assert successor.on_linkedin_delete == "local"
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501")
    webhooks.notification_process(notification=receive(action="DELETED"))
    assert crm.deleted == [["501"]]


def test_a_crm_record_shared_with_another_live_lead_is_kept(integration, crm):
    crm_on_delete(integration)
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501")
    factories.lead(integration, linkedin_id="same-email-again", state="synced", crm_id="501")
    notification = webhooks.notification_process(notification=receive(action="DELETED"))
    assert notification.state == "processed" and "kept" in notification.error
    assert not crm.deleted
    assert Lead.objects.get(linkedin_id="abc-123-5").state == "deleted"


def test_a_crm_record_already_gone_is_fine_and_a_refusal_fails(integration, crm):
    crm_on_delete(integration)
    factories.lead(integration, linkedin_id="abc-123-5", state="synced", crm_id="501")
    crm.result = ObjectResult(0, False, "501", 302, "No rows affected")
    assert webhooks.notification_process(notification=receive(action="DELETED")).state == "processed"

    factories.lead(integration, linkedin_id="other-5", state="synced", crm_id="502")
    crm.result = ObjectResult(0, False, "502", 999, "Locked record")
    notification = webhooks.notification_process(notification=receive(lead_id="other-5", action="DELETED"))
    assert notification.state == "failed" and "Locked record" in notification.error
    assert Lead.objects.get(linkedin_id="other-5").state == "deleted"  # scrubbed all the same


def test_deleted_of_a_lead_leadsync_never_stored(integration, crm):
    notification = webhooks.notification_process(notification=receive(action="DELETED"))
    assert notification.state == "processed" and "nothing to delete" in notification.error


def test_a_created_after_its_deleted_is_not_fetched(integration, linkedin, pushed):
    webhooks.notification_process(notification=receive(action="DELETED"))
    notification = webhooks.notification_process(notification=receive(action="CREATED"))
    assert notification.state == "ignored" and not linkedin.fetched and not Lead.objects.exists()


@pytest.mark.parametrize("state", ["pending", "synced"])
def test_deleting_a_lead_while_a_sync_runs_scrubs_now_and_applies_again_after_it(integration, crm, state):
    factories.lead(integration, linkedin_id="abc-123-5", state=state)
    notification = receive(action="DELETED")
    token = integration_lock_acquire(integration=integration)
    try:
        with pytest.raises(webhooks.NotificationDeferred):
            webhooks.notification_process(notification=notification, final_attempt=False)
        assert Lead.objects.get().state == "deleted" and Lead.objects.get().email == ""
        assert LeadNotification.objects.get().state == "received"
        # Retried (at once, in eager mode) while the sync holds the integration; the last attempt says so.
        result = tasks.process_lead_notification.apply(args=[notification.pk])
    finally:
        integration_lock_release(integration=integration, token=token)
    assert result.successful()
    notification.refresh_from_db()
    assert notification.state == "failed" and "process this notification again" in notification.error
    # Once the sync is over, processing again finishes the job, even if the sync wrote the lead back.
    Lead.objects.update(state="synced", crm_id="501")
    assert webhooks.notification_process(notification=notification).state == "processed"
    assert Lead.objects.get().state == "deleted"


def test_the_task_processes_a_notification(integration, linkedin, pushed):
    notification = receive()
    result = tasks.process_lead_notification.apply(args=[notification.pk])
    assert result.get()["state"] == "processed"
    assert tasks.process_lead_notification.apply(args=[123456]).get()["state"] == "gone"


# --- the admin ------------------------------------------------------------------------------------

def test_admin_lists_notifications_and_processes_failed_ones_again(admin_client, queued, monkeypatch,
                                                                  django_capture_on_commit_callbacks):
    failed = receive()
    LeadNotification.objects.filter(pk=failed.pk).update(state="failed", error="boom")
    done = receive(lead_id="done-5")
    LeadNotification.objects.filter(pk=done.pk).update(state="processed")
    again = []
    monkeypatch.setattr("leads.admin.notifications.process_lead_notification",
                        type("T", (), {"delay": staticmethod(again.append)}))

    changelist = reverse("admin:leads_leadnotification_changelist")
    response = admin_client.get(changelist, {"q": "abc-123-5"})
    assert response.status_code == 200 and "abc-123-5" in response.content.decode()
    page = admin_client.get(reverse("admin:leads_leadnotification_change", args=[failed.pk]))
    assert page.status_code == 200 and "urn:li:leadGenFormResponse:abc-123-5" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "process_again", "_selected_action": [failed.pk, done.pk]})
    assert again == [failed.pk]


# --- the sweeper: notifications never depend on the broker -------------------------------------------

def _age(notification, minutes):
    LeadNotification.objects.filter(pk=notification.pk).update(received_at=timezone.now() - timedelta(minutes=minutes))


def test_the_sweeper_processes_waiting_notifications_created_and_deleted_alike(integration, linkedin, pushed, crm):
    created = receive()
    gone = factories.lead(integration, linkedin_id="gone-1", state="synced", crm_id="77")
    deleted = receive(lead_id="gone-1", action="DELETED")
    fresh = receive(lead_id="fresh-9")
    for notification in (created, deleted):
        _age(notification, 5)

    counts = webhooks.notifications_sweep()

    assert counts == {"processed": 2}
    assert LeadNotification.objects.get(pk=created.pk).state == "processed"
    assert Lead.objects.get(linkedin_id="abc-123-5").state == "synced"
    assert LeadNotification.objects.get(pk=deleted.pk).state == "processed"
    assert Lead.objects.get(pk=gone.pk).state == "deleted"
    assert LeadNotification.objects.get(pk=fresh.pk).state == "received", "a fresh one is left to its queued task"
    assert webhooks.notifications_sweep() == {}, "nothing is processed twice"


def test_a_deletion_behind_a_running_sync_waits_for_the_next_sweep(integration, crm):
    lead = factories.lead(integration, linkedin_id="busy-1", state="synced", crm_id="5")
    notification = receive(lead_id="busy-1", action="DELETED")
    _age(notification, 5)
    token = integration_lock_acquire(integration=integration)
    try:
        assert webhooks.notifications_sweep() == {"deferred": 1}
    finally:
        integration_lock_release(integration=integration, token=token)
    assert Lead.objects.get(pk=lead.pk).state == "deleted", "the personal data is gone at once"
    assert webhooks.notifications_sweep() == {"processed": 1}


def test_the_notifications_list_says_how_many_are_waiting(admin_client):
    receive()
    page = admin_client.get(reverse("admin:leads_leadnotification_changelist")).content.decode()
    assert 'id="notifications-waiting"' in page and "1 notification waiting to be processed" in page


def _readings(body):
    """Every signature reading LinkedIn's wording allows, as the tests above accept them."""
    digest = hex_hmac(body)
    return {"hex of the body": digest, "prefixed hex": "hmacsha256=" + digest,
            "hex of the prefixed body": hex_hmac(b"hmacsha256=" + body)}


@pytest.mark.parametrize("reading", ["hex of the body", "prefixed hex", "hex of the prefixed body"])
@pytest.mark.parametrize("miss", ["last digit changed", "cut short", "extended", "first half only"])
def test_a_near_miss_of_an_accepted_signature_is_refused(client, queued, reading, miss):
    body = body_of(payload())
    good = _readings(body)[reading]
    assert post(client, body, good).status_code == 200, "the reading itself is accepted"
    LeadNotification.objects.all().delete()
    bad = {"last digit changed": good[:-1] + ("0" if good[-1] != "0" else "1"), "cut short": good[:-1],
           "extended": good + "0", "first half only": good[: len(good) // 2]}[miss]
    assert post(client, body, bad).status_code == 401
    assert not LeadNotification.objects.exists()
