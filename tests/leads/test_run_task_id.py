"""A sync run names the Celery task it ran in (SyncRun.task_id), so the worker that did it can be read
from the result backend (the scale-out test, an operator in Flower); outside a task it is empty."""

import pytest
from celery import shared_task

from leads.models import SyncRun
from leads.pipeline.runs import sync_run
from tests import factories

pytestmark = pytest.mark.django_db


@shared_task(name="tests.run_in_a_task")
def run_in_a_task(integration_id):
    from mappings.models import Integration

    with sync_run(integration=Integration.objects.get(pk=integration_id), trigger="manual") as run:
        return run.pk


def test_a_run_made_in_a_task_carries_the_tasks_id():
    integration = factories.integration()
    result = run_in_a_task.apply(args=[integration.pk], task_id="the-task-id-123")
    assert SyncRun.objects.get(pk=result.result).task_id == "the-task-id-123"


def test_a_run_made_outside_a_task_has_none():
    integration = factories.integration()
    with sync_run(integration=integration, trigger="manual") as run:
        pass
    run.refresh_from_db()
    assert run.task_id == "" and run.state == "succeeded"
