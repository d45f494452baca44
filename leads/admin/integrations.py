"""The integrations' admin: the page with its mapping editor and preview, the backfill page, and
the actions (sync now, retry, tear down, recreate) that call the same services as the CLI."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse

from connectors.exceptions import LeadSyncError
from leads import tasks
from leads.admin.common import queue_after_commit
from leads.admin.mappings import FieldMappingInline, mapping_preview
from leads.integrations import integration_recreate, integration_teardown
from leads.models import Lead
from mappings.models import Integration


class BackfillForm(forms.Form):
    days = forms.IntegerField(
        min_value=1, max_value=90, initial=90, label="Days",
        help_text="Re-pull the leads submitted in this many past days (1 to 90).",
    )


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    actions = ["sync_now", "retry_failed_leads", "tear_down", "tear_down_and_purge", "recreate"]
    change_form_template = "admin/leads/integration/change_form.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<int:pk>/backfill/", self.admin_site.admin_view(self.backfill_view), name="%s_%s_backfill" % info),
        ] + super().get_urls()

    def backfill_view(self, request, pk):
        """The admin's twin of `leadsync sync FORM_ID --days N` (LGF-107), run on a worker."""
        integration = get_object_or_404(Integration.objects.select_related("form"), pk=pk)
        if not self.has_change_permission(request, integration) or integration.state == Integration.State.TORN_DOWN:
            raise PermissionDenied
        runs_url = reverse("admin:leads_syncrun_changelist") + f"?integration__id__exact={integration.pk}"
        form = BackfillForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            days = form.cleaned_data["days"]
            queue_after_commit(self, request, [lambda: tasks.sync_integration.delay(integration.pk, trigger="backfill", days=days)],
                   f"Queued a backfill of the last {days} days for {integration}; its progress shows here.")
            return redirect(runs_url)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": integration, "form": form,
                   "runs_url": runs_url, "title": f"Backfill {integration}"}
        return TemplateResponse(request, "admin/leads/integration/backfill.html", context)
    list_display = (
        "__str__", "form", "crm_connection", "state", "sync_every_minutes", "watermark", "last_sync_at",
    )
    list_filter = ("state", "crm_connection")
    search_fields = ("name", "form__name", "form__linkedin_id")
    list_select_related = ("form", "crm_connection")
    readonly_fields = (
        "periodic_task", "watermark", "webhook_subscriptions", "last_sync_at", "torn_down_at", "recreated_at",
        "preview",
    )
    inlines = [FieldMappingInline]

    @admin.display(description="Preview")
    def preview(self, obj):
        """The newest stored lead through the mapping as saved, so an admin sees what the CRM would
        get before the next sync sends it."""
        if obj is None or not obj.pk:
            return "—"
        lead = (obj.leads.exclude(state=Lead.State.DELETED).defer("raw", "field_outcomes")
                .order_by("-submitted_at", "-pk").first())
        if lead is None:
            return "No lead is stored yet: the preview shows the newest lead once a sync has pulled one."
        return render_to_string("admin/leads/mapping_preview.html",
                                {"preview": mapping_preview(integration=obj, lead=lead), "newest": True})

    @admin.action(description="Sync now (pull and push)")
    def sync_now(self, request, queryset):
        ids = list(queryset.exclude(state=Integration.State.TORN_DOWN).values_list("pk", flat=True))
        queue_after_commit(self, request, [lambda pk=pk: tasks.sync_integration.delay(pk, trigger="manual") for pk in ids],
               f"Queued a sync of {len(ids)} integration(s); follow it under Sync runs.")

    @admin.action(description="Retry failed leads")
    def retry_failed_leads(self, request, queryset):
        ids = list(queryset.exclude(state=Integration.State.TORN_DOWN).values_list("pk", flat=True))
        queue_after_commit(self, request, [lambda pk=pk: tasks.retry_failed.delay(pk) for pk in ids],
               f"Queued a retry of the failed leads of {len(ids)} integration(s); follow it under Sync runs.")

    def _tear_down(self, request, queryset, purge):
        done, problems = 0, []
        for integration in queryset.select_related("form__owner__connection"):
            try:
                result = integration_teardown(integration=integration, purge=purge)
            except LeadSyncError as exc:
                problems.append(f"{integration}: {exc}")
                continue
            done += 1
            problems += result["warnings"]
        self.message_user(request, f"Tore down {done} integration(s)" + (" and purged their leads." if purge else
                          "; their leads are kept and Recreate brings them back."))
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)

    @admin.action(description="Tear down (keep the data)", permissions=["change"])
    def tear_down(self, request, queryset):
        self._tear_down(request, queryset, purge=False)

    @admin.action(description="Tear down and purge stored leads", permissions=["delete"])
    def tear_down_and_purge(self, request, queryset):
        self._tear_down(request, queryset, purge=True)

    @admin.action(description="Recreate from the saved mapping", permissions=["change"])
    def recreate(self, request, queryset):
        done = 0
        for integration in queryset.filter(state=Integration.State.TORN_DOWN).select_related("form"):
            try:
                integration_recreate(form=integration.form)
            except LeadSyncError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Recreated {done} integration(s); they resume from their watermark.")
