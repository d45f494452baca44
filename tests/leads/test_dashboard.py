"""The admin's home: the dashboard's figures are what the database holds, the apps are grouped
(product first, sandbox apart), and the attention banners show on every admin page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from leads import health
from leads.dashboard import dashboard
from leads.models import Lead, SyncRun
from mappings.models import Integration
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_health():
    from django.core.cache import cache

    cache.delete(health.CACHE_KEY)
    yield
    cache.delete(health.CACHE_KEY)


def test_the_dashboards_figures_equal_what_the_database_holds():
    now = timezone.now()
    a, b = factories.integration(), factories.integration(mapping_review={"version": 2, "added": ["x"]})
    for days, state in ((0, "synced"), (0, "failed"), (3, "synced"), (10, "failed"), (40, "synced")):
        factories.lead(a, submitted_at=now - timedelta(days=days), state=state)
    factories.lead(b, submitted_at=now, state="failed")
    SyncRun.objects.create(integration=a, state="succeeded", created=2, updated=1, failed=1, skipped=3)

    d = dashboard(now=now, use_cache=False)
    by_pk = {i["pk"]: i for i in d["integrations"]}
    for integ in (a, b):
        leads = Lead.objects.filter(integration=integ)
        row = by_pk[integ.pk]
        assert row["leads_today"] == leads.filter(submitted_at__gte=d["today"]).count()
        assert row["leads_7"] == leads.filter(submitted_at__gte=d["since_7"]).count()
        assert row["leads_30"] == leads.filter(submitted_at__gte=d["since_30"]).count()
        assert row["failed"] == leads.filter(state="failed").count()
    assert d["failed_total"] == Lead.objects.filter(state="failed").count() == 3
    assert d["review_total"] == Integration.objects.exclude(mapping_review={}).count() == 1
    assert by_pk[a.pk]["last_run_state"] == "succeeded"
    assert sum(sum(v) for v in d["leads_per_day"]["series"].values()) == Lead.objects.filter(
        submitted_at__gte=d["since_30"]).count()
    assert d["outcomes_per_day"]["series"]["synced"][-1] == 3
    assert d["outcomes_per_day"]["series"]["skipped"][-1] == 3


def test_the_home_page_shows_the_figures_linked_to_their_lists_and_the_sandbox_apart(admin_client):
    integ = factories.integration()
    factories.lead(integ, state="failed")
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="leadsync-dashboard"' in html
    assert f'href="{reverse("admin:leads_lead_changelist")}?state__exact=failed">1</a>' in html
    assert "<svg" in html and "cdn" not in html.lower()
    assert html.index("Leads and sync runs") < html.index('id="sandbox-group"') < html.index("Sandbox: LinkedIn")


def test_failed_leads_show_a_banner_on_every_admin_page(admin_client):
    factories.lead(factories.integration(), state="failed")
    html = admin_client.get(reverse("admin:mappings_integration_changelist")).content.decode()
    assert 'id="leadsync-failed-leads"' in html and "?state__exact=failed" in html


def test_a_beat_that_has_not_ticked_shows_its_banner(admin_client):
    interval, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="late", task="leads.sync_integration", interval=interval)
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=timezone.now() - timedelta(hours=2))
    assert health.beat_state()["overdue"] == ["late"]
    html = admin_client.get(reverse("admin:leads_lead_changelist")).content.decode()
    assert 'id="leadsync-celery-beat"' in html


def test_a_dead_broker_shows_its_banner_quickly(admin_client, settings):
    import time

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # closed port
    started = time.monotonic()
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert time.monotonic() - started < 5
    assert 'id="leadsync-celery-broker"' in html


def test_the_last_challenge_answered_is_in_the_database_for_every_process(client, settings):
    from django.core.cache import cache

    from leads.models import WebhookChallenge

    settings.LINKEDIN_CLIENT_SECRET = "test-client-secret"
    assert dashboard(use_cache=False)["webhooks"]["last_challenge_at"] is None
    before = timezone.now()
    for _ in range(2):
        assert client.get(reverse("linkedin_webhook"), {"challengeCode": "abc"}).status_code == 200
    cache.clear()  # another web process: its own cache, the same database
    row = WebhookChallenge.objects.get()
    assert row.answered == 2 and row.answered_at >= before
    assert dashboard(use_cache=False)["webhooks"]["last_challenge_at"] == row.answered_at


def scheduled(integration, *, interval=None, crontab=None, last_run_at=None):
    task = PeriodicTask.objects.create(name=f"sync {integration.pk}", task="leads.sync_integration",
                                       interval=interval, crontab=crontab)
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=last_run_at)
    Integration.objects.filter(pk=integration.pk).update(periodic_task=task)
    return task


def test_the_next_run_comes_from_the_beat_entrys_interval_not_from_the_last_sync():
    now = timezone.now()
    integ = factories.integration(sync_every_minutes=15)
    Integration.objects.filter(pk=integ.pk).update(last_sync_at=now - timedelta(days=3))
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.MINUTES)
    scheduled(integ, interval=every_hour, last_run_at=now - timedelta(minutes=10))
    row, = dashboard(now=now, use_cache=False)["integrations"]
    assert abs(row["next_run"] - (now + timedelta(minutes=50))) < timedelta(seconds=5)
    assert not row["next_run_overdue"]


def test_the_next_run_of_a_crontab_entry_is_its_next_time():
    from django_celery_beat.models import CrontabSchedule

    now = timezone.now()
    integ = factories.integration()
    at_minute_30, _ = CrontabSchedule.objects.get_or_create(minute="30", hour="*", day_of_week="*",
                                                            day_of_month="*", month_of_year="*", timezone="UTC")
    scheduled(integ, crontab=at_minute_30, last_run_at=now - timedelta(seconds=1))
    row, = dashboard(now=now, use_cache=False)["integrations"]
    expected = now.replace(minute=30, second=0, microsecond=0)
    if expected <= now:
        expected += timedelta(hours=1)
    assert abs(row["next_run"] - expected) < timedelta(seconds=5), (row["next_run"], expected)


def test_an_active_integration_without_a_beat_entry_is_not_scheduled(admin_client):
    factories.integration()
    row, = dashboard(use_cache=False)["integrations"]
    assert row["next_run"] is None
    assert "not scheduled" in admin_client.get(reverse("admin:index")).content.decode()


def test_a_crontab_entry_that_beat_did_not_run_is_overdue():
    from django_celery_beat.models import CrontabSchedule

    daily, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="3", day_of_week="*", day_of_month="*",
                                                     month_of_year="*", timezone="UTC")
    late = PeriodicTask.objects.create(name="nightly", task="leads.sync_integration", crontab=daily)
    PeriodicTask.objects.filter(pk=late.pk).update(last_run_at=timezone.now() - timedelta(days=2))
    fine = PeriodicTask.objects.create(name="nightly-done", task="leads.sync_integration", crontab=daily)
    PeriodicTask.objects.filter(pk=fine.pk).update(last_run_at=timezone.now() - timedelta(minutes=1))
    assert health.beat_state()["overdue"] == ["nightly"]


def test_the_crm_connections_show_their_check_catalogue_and_refused_pushes(admin_client):
    from leads.models import LeadAttempt

    now = timezone.now()
    crm = factories.crm_connection(status="active")
    type(crm).objects.filter(pk=crm.pk).update(last_checked_at=now - timedelta(hours=2),
                                               fields_loaded_at=now - timedelta(days=3))
    integ = factories.integration(crm=crm)
    lead = factories.lead(integ, state="failed")
    for hours, outcome in ((1, "failed"), (2, "retry"), (3, "synced"), (30, "failed")):
        LeadAttempt.objects.create(lead=lead, at=now - timedelta(hours=hours), number=hours, outcome=outcome)

    row, = dashboard(now=now, use_cache=False)["crm_connections"]
    assert row["refused_24h"] == 2 and row["integrations"] == 1 and row["catalogue_days"] == 3
    html = admin_client.get(reverse("admin:index")).content.decode()
    section = html[html.index('id="dashboard-crm-connections"'):]
    assert reverse("admin:connectors_crmconnection_change", args=[crm.pk]) in section
    assert f'?crm_connection__id__exact={crm.pk}">1</a>' in section
    assert "2 refused" in section and "read 3" in section and crm.secret_key not in html


def test_a_reviewer_sees_no_crm_connections_on_the_dashboard(client, django_user_model):
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.models import Group

    import_module("leads.migrations.0003_lead_reviewers_group").create_group(apps, None)
    factories.crm_connection()
    user = django_user_model.objects.create_user("rita", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Lead reviewers"))
    client.force_login(user)
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="leadsync-dashboard"' in html
    assert "dashboard-crm-connections" not in html and "crmconnection" not in html


def test_the_home_page_costs_the_same_queries_for_many_integrations_and_connections(admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    every_hour, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.MINUTES)

    def home_queries(n):
        for _ in range(n):
            integ = factories.integration()
            scheduled(integ, interval=every_hour, last_run_at=timezone.now())
            factories.lead(integ, state="failed")
        from django.core.cache import cache
        cache.delete(health.CACHE_KEY)
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(reverse("admin:index")).status_code == 200
        return len(ctx.captured_queries)

    few = home_queries(2)
    assert home_queries(5) == few


def test_an_integration_whose_beat_entry_is_late_shows_its_next_run_overdue(admin_client):
    integ = factories.integration()
    every_15, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.MINUTES)
    scheduled(integ, interval=every_15, last_run_at=timezone.now() - timedelta(hours=2))
    row, = dashboard(use_cache=False)["integrations"]
    assert row["next_run_overdue"]
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "overdue 1\xa0hour" in html, html[html.index("next-run"):][:300]


def test_the_guarded_beat_scheduler_still_counts_as_the_database_scheduler(settings):
    assert health.beat_state()["database_scheduler"]  # leadsync_project.beat's, built on django-celery-beat's
    settings.CELERY_BEAT_SCHEDULER = "celery.beat:PersistentScheduler"
    assert not health.beat_state()["database_scheduler"]
    settings.CELERY_BEAT_SCHEDULER = "no_such_module:Scheduler"
    assert not health.beat_state()["database_scheduler"]
