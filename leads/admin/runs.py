"""Sync runs: what each attempt to move an integration's leads did, with live progress."""

from django.contrib import admin

from leads.models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__", "integration", "trigger", "state", "window_start", "window_end", "progress", "pulled", "new",
        "created", "updated", "failed", "started_at", "finished_at",
    )
    list_filter = ("state", "trigger", "integration")
    list_select_related = ("integration", "integration__form")
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        # While a run is going, the list refreshes itself so its progress moves.
        running = SyncRun.objects.filter(state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING]).exists()
        return super().changelist_view(request, {**(extra_context or {}), "runs_in_progress": running})

    @admin.display(description="Progress")
    def progress(self, obj):
        if obj.progress_total:
            return f"{obj.progress_done}/{obj.progress_total}"
        return str(obj.progress_done)
