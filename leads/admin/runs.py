"""Sync runs: what each attempt to move an integration's leads did, with live progress (a bar that
polls the run's progress.json; leads/static/leadsync/progress.js)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse

from leads.models import SyncRun
from leads.selectors import run_progress

# What the progress view reads: the run's counts and states, nothing of its integration or leads.
PROGRESS_FIELDS = ("id", "state", "progress_done", "progress_total", "pulled", "created", "updated", "failed")


def progress_json(data) -> JsonResponse:
    """A progress answer (admin_view already marks it never cached: a bar must see the run move)."""
    return JsonResponse(data)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    change_form_template = "admin/leads/syncrun/change_form.html"
    list_display = (
        "__str__", "integration", "trigger", "state", "window_start", "window_end", "progress", "pulled", "new",
        "created", "updated", "failed", "started_at", "finished_at",
    )
    list_filter = ("state", "trigger", "integration")
    list_select_related = ("integration", "integration__form")
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<int:pk>/progress.json", self.admin_site.admin_view(self.progress_view), name="%s_%s_progress" % info),
        ] + super().get_urls()

    def progress_view(self, request, pk):
        """The run's progress for its bar: one query (staff and the view permission are checked by
        admin_view and here), counts only."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        run = get_object_or_404(SyncRun.objects.only(*PROGRESS_FIELDS), pk=pk)
        return progress_json(run_progress(run))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        run = SyncRun.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if run is not None:
            context.update(run_progress=run_progress(run), progress_url=reverse("admin:leads_syncrun_progress",
                                                                                 args=[run.pk]))
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description="Progress")
    def progress(self, obj):
        """A live bar while the run goes (it polls; the page is never reloaded), the counts after."""
        p = run_progress(obj)
        return render_to_string("admin/leads/progress_bar.html", {
            "p": p, "url": reverse("admin:leads_syncrun_progress", args=[obj.pk]), "inline": True,
            "box_id": f"run-progress-{obj.pk}"})
