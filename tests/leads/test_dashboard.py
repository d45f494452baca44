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


def test_the_guarded_beat_scheduler_still_counts_as_the_database_scheduler(settings):
    assert health.beat_state()["database_scheduler"]  # leadsync_project.beat's, built on django-celery-beat's
    settings.CELERY_BEAT_SCHEDULER = "celery.beat:PersistentScheduler"
    assert not health.beat_state()["database_scheduler"]
    settings.CELERY_BEAT_SCHEDULER = "no_such_module:Scheduler"
    assert not health.beat_state()["database_scheduler"]
