"""Beat entries the connectors app needs."""

from django_celery_beat.models import IntervalSchedule, PeriodicTask

HEARTBEAT_TASK_NAME = "LeadSync: LinkedIn token heartbeat"  # also created by migration 0004


def heartbeat_schedule_ensure():
    """Make sure the beat entry of the heartbeat exists (hourly unless an admin changed it): every
    install with a LinkedIn connection must have one, even if the entry was deleted."""
    if PeriodicTask.objects.filter(task="connectors.heartbeat").exists():
        return
    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.get_or_create(
        name=HEARTBEAT_TASK_NAME,
        defaults={"task": "connectors.heartbeat", "interval": interval,
                  "description": "Checks every LinkedIn connection's token, refreshes it ahead of expiry and "
                                 "flags connections that need re-authorisation."},
    )
