"""A real Celery worker on the real Redis broker runs a task and returns its result."""

import pytest
from celery.contrib.testing.worker import start_worker

from leadsync_project.celery import app, ping

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_celery(redis_url):
    previous = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    try:
        yield app
    finally:
        app.conf.update(broker_url=previous[0], result_backend=previous[1], task_always_eager=previous[2])


def test_worker_round_trip_over_redis(redis_celery):
    with start_worker(redis_celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = ping.delay("hello from the test")
        assert result.get(timeout=30) == "hello from the test"
    assert redis_celery.conf.broker_url.startswith("redis://")


def test_celery_settings_follow_the_design(settings):
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
    # django-celery-beat's DatabaseScheduler, behind the one-beat lease (tests/project/test_beat_once.py)
    from django.utils.module_loading import import_string
    from django_celery_beat.schedulers import DatabaseScheduler

    assert issubclass(import_string(settings.CELERY_BEAT_SCHEDULER.replace(":", ".")), DatabaseScheduler)


# Every task the product defines, and the queue of its kind of work.
ROUTES = {
    "leads.process_lead_notification": "webhooks", "leads.sweep_notifications": "webhooks",
    "leads.sync_integration": "sync", "leads.sync_integrations": "sync", "leads.sync_group": "sync",
    "leads.retry_failed": "push",
    "connectors.heartbeat": "maintenance", "connectors.discover": "maintenance",
    "leads.reconcile_integrations": "maintenance", "leads.purge_expired_personal_data": "maintenance",
    "leadsync.ping": "celery",
}


def test_every_task_is_routed_to_the_queue_of_its_kind_of_work():
    app.loader.import_default_modules()
    product = {name for name in app.tasks if name.split(".")[0] in ("leads", "connectors", "mappings", "leadsync")}
    assert product == set(ROUTES), "a task without a route in ROUTES (and CELERY_TASK_ROUTES): " \
        f"{sorted(product ^ set(ROUTES))}"
    for name, queue in ROUTES.items():
        assert app.amqp.router.route({}, name)["queue"].name == queue, name


def test_a_worker_started_without_q_consumes_every_queue():
    """`celery -A leadsync_project worker` (no -Q), as the tests, scripts and a one-machine install
    start it, consumes the queues Celery declares: every one a task is routed to."""
    assert set(app.amqp.queues) == set(ROUTES.values())
    assert app.conf.task_default_queue == "celery"


def test_a_task_is_given_back_when_its_worker_dies_and_redelivered_only_after_the_longest_task():
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_a_notification_has_a_time_limit_of_its_own_shorter_than_a_backfills():
    app.loader.import_default_modules()
    notification = app.tasks["leads.process_lead_notification"]
    assert notification.soft_time_limit < notification.time_limit < app.conf.task_time_limit
    assert app.tasks["leads.sync_group"].time_limit == app.conf.task_time_limit  # the global limit, a backfill's
