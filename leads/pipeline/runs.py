"""A SyncRun per attempt to move an integration's leads, and the guarantee that none is ever left
"running": whatever ends the work, the run is saved finished, succeeded or failed with its reason."""

from contextlib import contextmanager

from celery import current_task
from django.utils import timezone

from connectors.exceptions import LeadSyncError
from leads.models import SyncRun
from leadsync_project.logs import log_context
from mappings.models import Integration


def run_fail(run: SyncRun, error: str) -> None:
    """End a running run as failed with `error`; a run that already ended keeps its outcome."""
    if run.state == SyncRun.State.RUNNING:
        run.state, run.error = SyncRun.State.FAILED, error


def _close_interrupted(integration: Integration) -> int:
    """Runs of the integration left "running" by a process that died: the caller holds the
    integration's lock, so no live run of it can be going on. They end failed, saying so."""
    return SyncRun.objects.filter(integration=integration, state=SyncRun.State.RUNNING).update(
        state=SyncRun.State.FAILED, finished_at=timezone.now(),
        error="interrupted: the process running it stopped before it finished (its leads are picked up by this "
              "or the next sync)")


def _celery_task_id() -> str:
    """The id of the Celery task this runs in ("" outside one): the run's `task_id`, which names the
    worker that did it through the result backend (several runs of one owner's sync share it)."""
    request = getattr(current_task, "request", None)
    return str(getattr(request, "id", None) or "")[:255]


@contextmanager
def sync_run(*, integration: Integration, trigger: str, window=(None, None), **counts):
    """A running SyncRun for the block, saved finished when the block ends. Call it holding the
    integration's lock: runs a dead process left running are closed first, as interrupted.

    The block may end it failed itself (`run_fail`); else it succeeded. A `LeadSyncError` (LinkedIn
    or the CRM failing after their retries, a connection that needs re-authorisation) ends it
    failed with its message and goes no further: the caller reads the run. Anything else ends it
    failed as an internal error and is raised. Records logged inside carry `run_id` and
    `integration_id` (leadsync_project.logs)."""
    start, end = window
    _close_interrupted(integration)
    run = SyncRun.objects.create(integration=integration, trigger=trigger, state=SyncRun.State.RUNNING,
                                 started_at=timezone.now(), window_start=start, window_end=end,
                                 task_id=_celery_task_id(), **counts)
    try:
        with log_context(run_id=run.pk, integration_id=integration.pk):
            yield run
    except LeadSyncError as exc:
        run_fail(run, str(exc))
    except Exception as exc:
        run_fail(run, f"internal error: {type(exc).__name__}: {exc}")
        raise
    else:
        if run.state == SyncRun.State.RUNNING:
            run.state = SyncRun.State.SUCCEEDED
    finally:
        run.finished_at = timezone.now()
        run.save()
