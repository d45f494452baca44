"""The beat schedules (django-celery-beat's periodic tasks), with their list actions kept to those
who may change them. LeadSync makes and changes these rows itself (an integration's schedule, the
token heartbeat); the "Lead sync admins" group only views them, and django-celery-beat's enable,
disable, toggle and run actions ask for no permission at all, so a viewer could otherwise stop
the heartbeat from the list."""

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

CHANGING_ACTIONS = ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")


class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            for name in CHANGING_ACTIONS:
                actions.pop(name, None)
        return actions


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
