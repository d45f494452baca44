"""Celery beat runs the scheduled syncs: the beat entry `enable` creates names a task that a real
worker, on the real Redis broker, runs to a successful sync; the heartbeat has its entry too."""

import json

import pytest
from celery.contrib.testing.worker import start_worker
from django_celery_beat.models import PeriodicTask

from leadsync_project.celery import app
from leads.models import Lead, SyncRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]


@pytest.fixture
def worker(redis_url):
    previous = (app.conf.broker_url, app.conf.result_backend)
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        app.conf.update(broker_url=previous[0], result_backend=previous[1])


def test_the_beat_entry_of_an_integration_runs_a_sync_on_a_real_worker(event_integration, worker):
    entry = PeriodicTask.objects.get(pk=event_integration.periodic_task_id)
    assert entry.enabled and entry.interval.every == event_integration.sync_every_minutes
    assert json.loads(entry.args) == [event_integration.pk]

    result = worker.send_task(entry.task, args=json.loads(entry.args))
    outcome = result.get(timeout=120)

    assert outcome["state"] == "succeeded", outcome
    run = SyncRun.objects.get(pk=outcome["run"])
    assert run.trigger == "schedule" and run.created > 0
    assert Lead.objects.filter(state="synced").count() == run.created + run.updated


def test_the_heartbeat_has_a_beat_entry_and_runs_on_a_worker(event_integration, worker):
    entry = PeriodicTask.objects.get(task="connectors.heartbeat")
    assert entry.enabled
    [row] = worker.send_task(entry.task).get(timeout=60)
    assert row["ok"] and row["status"] == "active"
