"""The health probe against a real Redis broker: a running worker answers the ping, a worker
stopped on purpose shows its banner."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.urls import reverse

from leads import health
from leadsync_project.celery import app

# The worker closes the database connection when it stops: a transactional test opens a new one.
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_celery(redis_url, settings):
    previous = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    settings.CELERY_BROKER_URL = redis_url
    cache.delete(health.CACHE_KEY)
    try:
        yield app
    finally:
        app.conf.update(broker_url=previous[0], result_backend=previous[1], task_always_eager=previous[2])
        cache.delete(health.CACHE_KEY)


def test_a_worker_stopped_on_purpose_shows_its_banner(redis_celery, admin_client):
    with start_worker(redis_celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        running = health.celery_health(use_cache=False)
        assert running["broker"] == "ok" and running["worker"] == "ok", running
    stopped = health.celery_health(use_cache=False)
    assert stopped["broker"] == "ok" and stopped["worker"] == "down"
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="leadsync-celery-worker"' in html and 'id="leadsync-celery-broker"' not in html
