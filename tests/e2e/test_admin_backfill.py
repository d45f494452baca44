"""The admin's backfill page (LGF-107 from the admin): a window of up to 90 days, run on a worker,
its progress under Sync runs."""

from datetime import timedelta

import pytest
from django.urls import reverse

from leads.models import SyncRun
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def eager():
    from leadsync_project.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_backfill_from_the_admin_runs_a_backfill_of_the_chosen_window(admin_client, event_integration, eager):
    change = admin_client.get(reverse("admin:mappings_integration_change", args=[event_integration.pk])).content.decode()
    url = reverse("admin:mappings_integration_backfill", args=[event_integration.pk])
    assert url in change

    page = admin_client.get(url)
    assert page.status_code == 200 and "Start the backfill" in page.content.decode()
    refused = admin_client.post(url, {"days": "120"})
    assert refused.status_code == 200 and "less than or equal to 90" in refused.content.decode()
    assert not SyncRun.objects.exists()

    response = admin_client.post(url, {"days": "30"}, follow=True)
    assert "Queued a backfill of the last 30 days" in response.content.decode()
    run = SyncRun.objects.get()
    assert run.trigger == "backfill" and run.state == "succeeded"
    assert timedelta(days=29, hours=23) < run.window_end - run.window_start <= timedelta(days=30, minutes=1)


def test_the_sync_run_list_shows_live_bars_instead_of_reloading_itself(admin_client):
    run = factories.sync_run(state="running", progress_done=3, progress_total=12)
    page = admin_client.get(reverse("admin:leads_syncrun_changelist")).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert reverse("admin:leads_syncrun_progress", args=[run.pk]) in page and "leadsync/progress.js" in page
