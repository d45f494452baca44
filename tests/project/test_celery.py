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
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"


def test_a_task_is_given_back_when_its_worker_dies_and_redelivered_only_after_the_longest_task():
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit
