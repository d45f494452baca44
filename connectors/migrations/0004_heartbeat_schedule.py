"""The token heartbeat (LGF-002) is a beat schedule created here, so it exists on every install
and can be changed (or paused) in the admin under Periodic tasks."""

from django.db import migrations

TASK_NAME = "LeadSync: LinkedIn token heartbeat"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "connectors.heartbeat",
            "interval": interval,
            "description": "Checks every LinkedIn connection's token (introspection and a member call), "
                           "refreshes it ahead of expiry and flags connections that need re-authorisation.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0003_connection_permissions_and_alerts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
