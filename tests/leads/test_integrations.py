"""An integration's schedule follows its state and interval: pause, resume, and the admin's edits."""

import pytest
from django_celery_beat.models import PeriodicTask

from leads.integrations import (
    IntegrationError,
    integration_pause,
    integration_resume,
    integration_schedule,
    integration_schedule_follow,
)
from mappings.models import Integration
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled():
    integration = factories.integration(sync_every_minutes=15)
    integration_schedule(integration=integration)
    return integration


def task_of(integration):
    return PeriodicTask.objects.select_related("interval").get(pk=integration.periodic_task_id)


def test_pause_disables_the_beat_entry_and_resume_enables_it_again(scheduled):
    integration_pause(integration=scheduled)
    assert Integration.objects.get(pk=scheduled.pk).state == "paused" and not task_of(scheduled).enabled

    integration_resume(integration=scheduled)
    assert Integration.objects.get(pk=scheduled.pk).state == "active" and task_of(scheduled).enabled


@pytest.mark.parametrize("state, call, says", [
    ("paused", integration_pause, "already paused"),
    ("active", integration_resume, "already active"),
    ("torn_down", integration_pause, "recreate it first"),
    ("torn_down", integration_resume, "recreate it first"),
])
def test_a_state_change_that_makes_no_sense_is_refused_with_a_sentence_and_changes_nothing(scheduled, state, call, says):
    Integration.objects.filter(pk=scheduled.pk).update(state=state)
    scheduled.refresh_from_db()
    enabled = task_of(scheduled).enabled
    with pytest.raises(IntegrationError, match=says):
        call(integration=scheduled)
    assert Integration.objects.get(pk=scheduled.pk).state == state and task_of(scheduled).enabled == enabled


def test_an_edited_interval_and_state_reach_the_beat_entry(scheduled):
    scheduled.sync_every_minutes, scheduled.state = 5, Integration.State.PAUSED
    scheduled.save()
    integration_schedule_follow(integration=scheduled)
    task = task_of(scheduled)
    assert (task.interval.every, task.interval.period, task.enabled) == (5, "minutes", False)


def test_a_torn_down_integration_keeps_no_beat_entry(scheduled):
    task_id = scheduled.periodic_task_id
    scheduled.state = Integration.State.TORN_DOWN
    integration_schedule_follow(integration=scheduled)
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
