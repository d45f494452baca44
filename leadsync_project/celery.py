"""The Celery app. Workers: `celery -A leadsync_project worker`; beat: `celery -A leadsync_project beat`
(django-celery-beat's DatabaseScheduler, so schedules are edited in the admin).

Workers and beat log through Django's LOGGING (leadsync_project/logs.py: text or JSON, redacted)
instead of Celery's own setup; records logged by a task carry its `task_id` and `task`, and each
task's start and end are counted for /metrics (leadsync_project/metrics.py)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadsync_project.settings")

app = Celery("leadsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="leadsync.ping")
def ping(value="pong"):
    """Round-trip check for workers and the broker (used by /healthz tooling and the tests)."""
    return value


@signals.setup_logging.connect
def _django_logging(loglevel=None, **_):
    """Connected, so Celery leaves the root logger alone: Django's LOGGING applies, at the level
    given with `-l` when one was."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


_task_contexts = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **_):
    from leadsync_project import logs, metrics

    _task_contexts[task_id] = logs.context_push(task_id=task_id, task=getattr(task, "name", None))
    metrics.task_event(getattr(task, "name", "?"), "started")


@signals.task_postrun.connect
def _task_ended(task_id=None, **_):
    from leadsync_project import logs

    token = _task_contexts.pop(task_id, None)
    if token is not None:
        logs.context_pop(token)


@signals.task_success.connect
def _task_succeeded(sender=None, **_):
    from leadsync_project import metrics

    metrics.task_event(getattr(sender, "name", "?"), "succeeded")


@signals.task_failure.connect
def _task_failed(sender=None, **_):
    from leadsync_project import metrics

    metrics.task_event(getattr(sender, "name", "?"), "failed")


@signals.task_retry.connect
def _task_retried(sender=None, **_):
    from leadsync_project import metrics

    metrics.task_event(getattr(sender, "name", "?"), "retried")

