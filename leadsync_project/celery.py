"""The Celery app. Workers: `celery -A leadsync_project worker`; beat: `celery -A leadsync_project beat`
(django-celery-beat's DatabaseScheduler, so schedules are edited in the admin)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadsync_project.settings")

app = Celery("leadsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="leadsync.ping")
def ping(value="pong"):
    """Round-trip check for workers and the broker (used by /healthz tooling and the tests)."""
    return value
