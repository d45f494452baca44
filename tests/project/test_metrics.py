"""/metrics (leadsync_project/metrics.py): not public, and what it says is what the database holds,
parsed the way Prometheus parses it."""

from datetime import timedelta

import pytest
from celery import shared_task
from django.contrib.auth.models import Permission
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from leads.models import Lead, LeadNotification, SyncRun
from leadsync_project import metrics
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]  # durations are computed by each database

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def token(settings):
    settings.LEADSYNC_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token=TOKEN):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


def parse(text):
    """{(sample name, frozenset of labels): value}."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, metric, /, **labels):
    return samples.get((metric, frozenset({k: str(v) for k, v in labels.items()}.items())))


def test_metrics_are_not_public(client, settings):
    settings.LEADSYNC_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_the_bearer_must_hold_the_token(client, token):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_a_reviewer_may_not_read_them_a_superuser_and_a_sync_admin_may(client, reviewer, admin_client,
                                                                       django_user_model, settings):
    settings.LEADSYNC_METRICS_TOKEN = ""
    assert reviewer.get("/metrics").status_code == 403
    assert admin_client.get("/metrics").status_code == 200
    from django.contrib.auth.models import Group

    viewer = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_syncrun"))
    client.force_login(viewer)
    assert client.get("/metrics").status_code == 403  # runs, but not connections
    viewer.groups.add(Group.objects.get(name="Lead sync admins"))
    viewer = django_user_model.objects.get(pk=viewer.pk)  # permissions are cached on the instance
    client.force_login(viewer)
    assert client.get("/metrics").status_code == 200


def test_the_figures_are_the_databases(client, token):
    now = timezone.now()
    integration = factories.integration(name="Webinar form")
    other = factories.integration(name="Ads form")
    for _ in range(3):
        factories.lead(integration, state=Lead.State.SYNCED, submitted_at=now - timedelta(minutes=10),
                       synced_at=now - timedelta(minutes=4))
    factories.lead(integration, state=Lead.State.SYNCED, submitted_at=now - timedelta(minutes=30),
                   synced_at=now - timedelta(minutes=5))
    factories.lead(integration, state=Lead.State.FAILED)
    factories.lead(other, state=Lead.State.PENDING, submitted_at=now - timedelta(hours=2))
    factories.lead(other, state=Lead.State.SYNCED, submitted_at=now - timedelta(days=3),
                   synced_at=now - timedelta(days=2))  # synced long ago: not in the lag window
    factories.sync_run(integration, state=SyncRun.State.SUCCEEDED, trigger="schedule", pulled=5, new=5, created=4,
                       failed=1, started_at=now - timedelta(minutes=6), finished_at=now - timedelta(minutes=4))
    factories.sync_run(integration, state=SyncRun.State.FAILED, trigger="schedule", pulled=2,
                       started_at=now - timedelta(minutes=3), finished_at=now - timedelta(minutes=2, seconds=30))
    factories.sync_run(other, state=SyncRun.State.SUCCEEDED, trigger="backfill", pulled=2, new=2, created=1,
                       started_at=now - timedelta(days=2, seconds=40), finished_at=now - timedelta(days=2))
    connection = integration.form.owner.connection
    connection.access_token_expires_at = now + timedelta(days=10)
    connection.refresh_token_expires_at = now + timedelta(days=200)
    connection.save()
    factories.linkedin_connection(name="lapsed", status="needs_reauth", refresh_token="",
                                  access_token_expires_at=now - timedelta(days=1))
    LeadNotification.objects.create(lead_urn="urn:li:leadGenFormResponse:1", lead_id="1", action="CREATED", payload={})

    s = scrape(client)
    i, o = {"integration": integration.pk, "name": "Webinar form"}, {"integration": other.pk, "name": "Ads form"}
    assert value(s, "leadsync_leads", **i, state="synced") == 4
    assert value(s, "leadsync_leads", **i, state="failed") == 1
    assert value(s, "leadsync_leads", **o, state="pending") == 1
    assert value(s, "leadsync_integration_state", **i, state="active") == 1
    assert value(s, "leadsync_run_leads_total", **i, kind="pulled") == 7
    assert value(s, "leadsync_run_leads_total", **i, kind="created") == 4
    assert value(s, "leadsync_run_leads_total", **i, kind="failed") == 1
    assert value(s, "leadsync_run_leads_total", **o, kind="created") == 1
    assert value(s, "leadsync_sync_runs_total", trigger="schedule", state="succeeded") == 1
    assert value(s, "leadsync_sync_runs_total", trigger="schedule", state="failed") == 1
    assert value(s, "leadsync_sync_runs_total", trigger="backfill", state="succeeded") == 1
    assert value(s, "leadsync_sync_last_duration_seconds", **i) == pytest.approx(30)  # the failed one, last
    assert value(s, "leadsync_sync_last_duration_seconds", **o) == pytest.approx(40)
    assert value(s, "leadsync_sync_last_success_timestamp_seconds", **i) == pytest.approx(
        (now - timedelta(minutes=4)).timestamp())
    assert value(s, "leadsync_lead_lag_seconds", **i, stat="max") == pytest.approx(25 * 60)
    assert value(s, "leadsync_lead_lag_seconds", **i, stat="avg") == pytest.approx((3 * 6 + 25) * 60 / 4)
    assert value(s, "leadsync_lead_lag_seconds", **o, stat="max") is None
    assert value(s, "leadsync_lead_oldest_pending_seconds") == pytest.approx(2 * 3600, abs=60)
    assert value(s, "leadsync_linkedin_token_days_left", connection=connection.name, token="access") == \
        pytest.approx(10, abs=0.01)
    assert value(s, "leadsync_linkedin_token_days_left", connection=connection.name, token="refresh") == \
        pytest.approx(200, abs=0.01)
    assert value(s, "leadsync_linkedin_token_days_left", connection="lapsed", token="access") == \
        pytest.approx(-1, abs=0.01)
    assert value(s, "leadsync_linkedin_token_days_left", connection="lapsed", token="refresh") is None
    assert value(s, "leadsync_linkedin_connection_status", connection="lapsed", status="needs_reauth") == 1
    assert value(s, "leadsync_lead_notifications", state="received") == 1


def test_a_scrape_costs_the_same_queries_whatever_the_number_of_integrations(client, token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            scrape(client)
        return len(captured)

    def one_more():
        integration = factories.integration()
        factories.lead(integration, state=Lead.State.SYNCED, synced_at=timezone.now())
        factories.sync_run(integration, state=SyncRun.State.SUCCEEDED, started_at=timezone.now(),
                           finished_at=timezone.now())

    one_more()
    few = queries()
    for _ in range(5):
        one_more()
    assert queries() == few


def test_the_scrape_holds_no_secret_or_personal_data(client, token):
    lead = factories.lead(email="private.person@example.com")
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    connection = lead.integration.form.owner.connection
    for secret in (lead.email, connection.access_token, connection.refresh_token,
                   lead.integration.crm_connection.secret_key, TOKEN):
        assert secret not in text


@shared_task(name="tests.metrics_ok")
def ok_task():
    return 1


@shared_task(name="tests.metrics_boom")
def boom_task():
    raise RuntimeError("boom")


def test_celery_tasks_are_counted_by_outcome(client, token):
    before = scrape(client)
    ok_task.apply()
    ok_task.apply()
    boom_task.apply()
    after = scrape(client)

    def delta(task, outcome):
        name = "leadsync_celery_tasks_total"
        return (value(after, name, task=task, outcome=outcome) or 0) - (value(before, name, task=task, outcome=outcome) or 0)

    assert (delta("tests.metrics_ok", "started"), delta("tests.metrics_ok", "succeeded")) == (2, 2)
    assert (delta("tests.metrics_boom", "started"), delta("tests.metrics_boom", "failed")) == (1, 1)
    assert delta("tests.metrics_ok", "failed") == 0


@pytest.mark.redis
def test_with_a_redis_broker_task_counts_are_shared_by_every_process(client, token, redis_url, settings):
    import redis

    settings.CELERY_BROKER_URL = redis_url
    redis.Redis.from_url(redis_url).delete(metrics.TASKS_KEY)
    metrics.task_event("leads.sync_integration", "succeeded")
    # another worker, on another machine, counting into the same hash
    redis.Redis.from_url(redis_url).hincrby(metrics.TASKS_KEY, "leads.sync_integration|succeeded", 2)
    s = scrape(client)
    assert value(s, "leadsync_celery_tasks_total", task="leads.sync_integration", outcome="succeeded") == 3


@pytest.mark.redis
def test_the_tasks_waiting_in_each_queue_are_counted(client, token, redis_url, settings):
    import redis

    from leadsync_project.celery import app

    url = redis_url.rsplit("/", 1)[0] + "/13"  # a database of its own: its queues are read whole
    redis.Redis.from_url(url).flushdb()
    settings.CELERY_BROKER_URL = url
    with app.connection_for_write(url) as connection:
        for _ in range(2):
            app.send_task("leads.process_lead_notification", args=[0], connection=connection)  # routed: webhooks
        app.send_task("connectors.heartbeat", connection=connection)  # maintenance
    s = scrape(client)
    assert value(s, "leadsync_celery_queue_length", queue="webhooks") == 2
    assert value(s, "leadsync_celery_queue_length", queue="maintenance") == 1
    assert value(s, "leadsync_celery_queue_length", queue="sync") == 0
    redis.Redis.from_url(url).flushdb()


def test_an_unreachable_broker_leaves_the_rest_of_the_scrape(client, token, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    metrics.task_event("leads.sync_integration", "started")  # not counted, and no error
    factories.lead(state=Lead.State.PENDING)
    s = scrape(client)
    assert sum(v for (name, _), v in s.items() if name == "leadsync_leads") == 1
