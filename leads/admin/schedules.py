"""The beat schedules (django-celery-beat's periodic tasks), with their list actions kept to those
who may change them. LeadSync makes and changes these rows itself (an integration's schedule, the
token heartbeat); the "Lead sync admins" group only views them, and django-celery-beat's enable,
disable, toggle and run actions ask for no permission at all, so a viewer could otherwise stop
the heartbeat from the list.

Whoever may change them (a superuser) changes an integration's schedule behind its page when they
edit, enable, disable or run its beat entry here: each such change is in the integration's audit
trail too."""

from contextlib import contextmanager

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from mappings.audit import admin_user, record_by, sync_started
from mappings.models import Integration, IntegrationEvent

CHANGING_ACTIONS = ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")


def _integration_entries(task_ids) -> dict:
    """{integration pk: (integration, its beat entry's enabled, its schedule in words)} for these entries."""
    integrations = Integration.objects.filter(periodic_task_id__in=list(task_ids)).select_related(
        "periodic_task__interval", "periodic_task__crontab")
    return {i.pk: (i, i.periodic_task.enabled, str(i.periodic_task.interval or i.periodic_task.crontab or ""))
            for i in integrations}


def _same_action(name):
    """The parent's action `name` with its description, recorded as `how`."""
    return admin.action(description=getattr(BeatPeriodicTaskAdmin, name).short_description)


class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            for name in CHANGING_ACTIONS:
                actions.pop(name, None)
        return actions

    @contextmanager
    def _recorded(self, request, task_ids, how):
        """Record, for each integration whose beat entry the block changes, what changed."""
        task_ids = list(task_ids)
        before = _integration_entries(task_ids)
        yield
        after = _integration_entries(task_ids)
        for pk, (integration, enabled, schedule) in after.items():
            if pk not in before:
                continue
            _, was_enabled, was_schedule = before[pk]
            detail = {}
            if enabled != was_enabled:
                detail["beat_entry_enabled"] = {"old": was_enabled, "new": enabled}
            if schedule != was_schedule:
                detail["beat_schedule"] = {"old": was_schedule, "new": schedule}
            if detail:
                record_by(admin_user(request.user), integration, IntegrationEvent.Kind.SCHEDULE_CHANGED,
                          f"Its beat entry was {how} in the beat schedules list: "
                          + ", ".join(f"{name.replace('_', ' ')} {change['new']!r} (was {change['old']!r})"
                                      for name, change in detail.items()) + ".", detail)

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        with self._recorded(request, [obj.pk], "edited"):
            super().save_model(request, obj, form, change)

    @_same_action("enable_tasks")
    def enable_tasks(self, request, queryset):
        with self._recorded(request, queryset.values_list("pk", flat=True), "enabled"):
            super().enable_tasks(request, queryset)

    @_same_action("disable_tasks")
    def disable_tasks(self, request, queryset):
        with self._recorded(request, queryset.values_list("pk", flat=True), "disabled"):
            super().disable_tasks(request, queryset)

    @_same_action("toggle_tasks")
    def toggle_tasks(self, request, queryset):
        with self._recorded(request, queryset.values_list("pk", flat=True), "toggled"):
            super().toggle_tasks(request, queryset)

    @_same_action("run_tasks")
    def run_tasks(self, request, queryset):
        for integration, _, _ in _integration_entries(queryset.values_list("pk", flat=True)).values():
            sync_started(integration=integration, by=admin_user(request.user), trigger="schedule")
        super().run_tasks(request, queryset)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
