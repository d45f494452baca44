"""Issue #4: LinkedIn accounts never silently stop (LGF-002 … LGF-007), over real HTTP against
the sandbox's OAuth and its fault switches."""

import json
import logging
import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import close_old_connections

from connectors import heartbeat
from connectors.models import LinkedInConnection
from connectors.tokens import connection_refresh
from leads.models import Lead, SyncRun
from sandbox.linkedin import models as li

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def li_fault(*args):
    call_command("sandbox_linkedin_fault", *args, stdout=StringIO())


def fresh_token(scopes=None):
    """A new token set for Alex from the sandbox's seed (optionally with other scopes)."""
    args = ["--leads", "0", "--json"] + (["--scopes", scopes] if scopes else [])
    out = StringIO()
    call_command("sandbox_seed", *args, stdout=out)
    return json.loads(out.getvalue())["tokens"]


def connect(cli, tokens, name="alex"):
    result = cli("linkedin", "add", name, "--access-token", tokens["access_token"], "--refresh-token",
                 tokens["refresh_token"], "--expires-in", str(tokens["expires_in"]),
                 "--refresh-expires-in", str(tokens["refresh_token_expires_in"]), "--json")
    assert result.code == 0, result.out + result.err
    return LinkedInConnection.objects.get(name=name)


@pytest.fixture
def alex(cli, linkedin_sandbox):
    return connect(cli, fresh_token())


def test_heartbeat_records_its_result_and_time(cli, alex):
    result = cli("linkedin", "heartbeat", "--json")
    assert result.code == 0, result.out + result.err
    [row] = result.json["connections"]
    assert row["ok"] and row["status"] == "active" and not row["refreshed"]
    alex.refresh_from_db()
    assert alex.last_heartbeat_ok is True and alex.last_heartbeat_at is not None
    assert "r_marketing_leadgen_automation" in alex.scopes


def test_heartbeat_detects_an_expired_access_token_and_refreshes_it(cli, alex):
    old = alex.access_token
    li_fault("--expire-access-tokens")
    result = cli("linkedin", "heartbeat", "alex", "--json")
    assert result.code == 0, result.out + result.err
    assert result.json["connections"][0]["refreshed"] is True
    alex.refresh_from_db()
    assert alex.access_token != old and alex.status == "active" and alex.last_refreshed_at


def test_refresh_keeps_the_decreasing_refresh_token_expiry(alex):
    first_expiry = alex.refresh_token_expires_at
    connection_refresh(connection=alex, failed_token=alex.access_token)
    alex.refresh_from_db()
    assert alex.refresh_token_expires_at <= first_expiry


def test_an_expired_access_token_is_refreshed_in_the_middle_of_a_sync(cli, event_integration, settings):
    settings.LINKEDIN_PAGE_SIZE = 10
    from leads.pipeline import sync

    flipped = []

    def progress(stage, done, total):
        if stage == "pull" and not flipped:
            li_fault("--expire-access-tokens")  # after the first page is committed
            flipped.append(done)

    run = sync.integration_sync(integration=event_integration, days=90, progress=progress)
    assert flipped, "the sync should have pulled more than one page"
    assert run.state == "succeeded", run.error
    connection = event_integration.form.owner.connection
    connection.refresh_from_db()
    assert connection.last_refreshed_at is not None and connection.status == "active"
    expected = li.Lead.objects.filter(form_version__form_id=int(event_integration.form.linkedin_id))
    assert Lead.objects.filter(linkedin_id__in=expected.values_list("id", flat=True)).count() == Lead.objects.count()
    assert not Lead.objects.filter(state="pending").exists()


def test_two_concurrent_refreshes_spend_the_refresh_token_once(alex):
    stale = alex.access_token
    results, errors = [], []
    barrier = threading.Barrier(2)

    def refresh():
        try:
            barrier.wait(timeout=10)
            connection = LinkedInConnection.objects.get(pk=alex.pk)
            results.append(connection_refresh(connection=connection, failed_token=stale))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1] != stale
    alex.refresh_from_db()
    assert alex.status == "active"
    # The sandbox's refresh tokens are single use: exactly one of Alex's was spent.
    assert li.RefreshToken.objects.filter(used_at__isnull=False).count() == 1


def test_a_revoked_refresh_token_needs_reauthorisation_then_syncs_resume(cli, event_integration, admin_client, django_user_model):
    django_user_model.objects.filter(is_superuser=True).update(email="ops@example.com")
    assert cli("sync", "--days", "30").code == 0
    event_integration.refresh_from_db()
    watermark = event_integration.watermark
    li_fault("--revoke-member", "AlexAdmin01")

    result = cli("sync", "--json")
    assert result.code == 1
    run = SyncRun.objects.latest("pk")
    assert run.state == "failed" and "re-authorisation" in run.error
    event_integration.refresh_from_db()
    assert event_integration.watermark == watermark  # nothing skipped
    connection = LinkedInConnection.objects.get(name="alex")
    assert connection.status == "needs_reauth"

    # The banner on every admin page, with the way back.
    page = admin_client.get("/admin/").content.decode()
    assert "needs re-authorisation" in page and "/linkedin/connect/" in page
    # One e-mail to the admins, however many syncs fail.
    assert cli("sync").code == 1
    assert len(mail.outbox) == 1 and "ops@example.com" in mail.outbox[0].to
    assert "re-authorisation" in mail.outbox[0].subject
    # Scheduled syncs stop cleanly without calling LinkedIn.
    assert "not started" in SyncRun.objects.latest("pk").error

    connect(cli, fresh_token())
    result = cli("sync", "--json")
    assert result.code == 0, result.out
    run = SyncRun.objects.latest("pk")
    assert run.state == "succeeded" and run.window_start < watermark  # resumed from the watermark
    assert "needs re-authorisation" not in admin_client.get("/admin/").content.decode()


def test_missing_scopes_are_reported_before_any_sync(cli, event_integration, admin_client):
    connect(cli, fresh_token(scopes="r_organization_admin r_ads r_events openid profile email"))
    connection = LinkedInConnection.objects.get(name="alex")
    assert any("r_marketing_leadgen_automation not granted" in p for p in connection.permission_problems)
    result = cli("sync", "--json")
    assert result.code == 1
    assert "not started" in result.json["error"]
    assert "scope r_marketing_leadgen_automation not granted" in result.json["error"]
    assert SyncRun.objects.latest("pk").pulled == 0
    page = admin_client.get("/admin/").content.decode()
    assert "cannot read lead forms or leads: scope r_marketing_leadgen_automation not granted" in page


def test_refresh_token_expiry_is_warned_with_a_countdown(cli, alex, admin_client):
    from datetime import timedelta

    from django.utils import timezone

    LinkedInConnection.objects.filter(pk=alex.pk).update(refresh_token_expires_at=timezone.now() + timedelta(days=9, hours=1))
    [alert] = [a for a in heartbeat.connection_alerts() if a["connection"] == "alex"]
    assert alert["level"] == "warning" and alert["days"] == 9
    assert "refresh token expires in 9 days" in admin_client.get("/admin/").content.decode()


def test_no_token_ever_appears_in_logs_output_or_admin(cli, event_integration, admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    connection = event_integration.form.owner.connection
    outputs = []
    for args in (("status", "--json"), ("status",), ("linkedin", "heartbeat", "--json"), ("sync", "--json")):
        r = cli(*args)
        outputs += [r.out, r.err]
    li_fault("--expire-access-tokens")
    r = cli("sync", "--json")
    outputs += [r.out, r.err]
    li_fault("--revoke-member", "AlexAdmin01")
    r = cli("sync", "--json")
    outputs += [r.out, r.err]
    for url in ("/admin/connectors/linkedinconnection/", f"/admin/connectors/linkedinconnection/{connection.pk}/change/",
                "/admin/leads/syncrun/", "/admin/"):
        outputs.append(admin_client.get(url).content.decode())
    outputs.append(caplog.text)
    outputs += [m.body for m in mail.outbox]
    secrets = [t.token for t in li.AccessToken.objects.all()] + [t.token for t in li.RefreshToken.objects.all()]
    assert secrets
    everything = "\n".join(outputs)
    leaked = [s for s in secrets if s in everything]
    assert not leaked


def test_linkedin_add_checks_the_token_with_a_member_call_when_introspection_is_unavailable(cli, linkedin_sandbox, settings):
    settings.LINKEDIN_CLIENT_SECRET = "not-the-app-secret"  # introspection answers 401 now
    tokens = fresh_token()
    connection = connect(cli, tokens)
    assert connection.member_name == "Alex Admin" and connection.status == "active"


def test_linkedin_add_refuses_a_bad_token_and_stores_nothing(cli, linkedin_sandbox):
    result = cli("linkedin", "add", "mallory", "--access-token", "AQV-not-a-real-token", "--json")
    assert result.code == 1
    assert "AQV-not-a-real-token" not in result.out + result.err
    assert not LinkedInConnection.objects.filter(name="mallory").exists()
