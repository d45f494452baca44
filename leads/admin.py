import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from connectors.exceptions import ApiError
from leads import lifecycle, tasks
from leads.models import Lead, LeadNotification, SyncRun
from leads.services import SyncBusy
from leads.tasks import process_lead_notification
from mappings.models import FieldMapping, Integration
from mappings.services import IntegrationError


def _queue(modeladmin, request, calls, done_message):
    """Run each zero-argument `call` (a task's .delay) once the transaction commits; the runs show
    their progress under Sync runs. A broker that cannot be reached is reported, not swallowed."""
    try:
        for call in calls:
            transaction.on_commit(call)
    except Exception as exc:  # noqa: BLE001 - the broker's many failure types
        modeladmin.message_user(request, f"Could not queue the work: {type(exc).__name__}. Is the broker running?",
                                messages.ERROR)
        return
    modeladmin.message_user(request, done_message)


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    fields = ("position", "source_kind", "source_key", "source_label", "crm_field", "transform", "enabled")
    extra = 0


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
            _queue(self, request, [lambda: tasks.sync_integration.delay(integration.pk, trigger="backfill", days=days)],
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
    readonly_fields = ("periodic_task", "watermark", "webhook_subscriptions", "last_sync_at", "torn_down_at", "recreated_at")
    inlines = [FieldMappingInline]

    @admin.action(description="Sync now (pull and push)")
    def sync_now(self, request, queryset):
        ids = list(queryset.exclude(state=Integration.State.TORN_DOWN).values_list("pk", flat=True))
        _queue(self, request, [lambda pk=pk: tasks.sync_integration.delay(pk, trigger="manual") for pk in ids],
               f"Queued a sync of {len(ids)} integration(s); follow it under Sync runs.")

    @admin.action(description="Retry failed leads")
    def retry_failed_leads(self, request, queryset):
        ids = list(queryset.exclude(state=Integration.State.TORN_DOWN).values_list("pk", flat=True))
        _queue(self, request, [lambda pk=pk: tasks.retry_failed.delay(pk) for pk in ids],
               f"Queued a retry of the failed leads of {len(ids)} integration(s); follow it under Sync runs.")

    def _tear_down(self, request, queryset, purge):
        done, problems = 0, []
        for integration in queryset.select_related("form__owner__connection"):
            try:
                result = lifecycle.integration_teardown(integration=integration, purge=purge)
            except (SyncBusy, ApiError) as exc:
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
                lifecycle.integration_recreate(form=integration.form)
            except IntegrationError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Recreated {done} integration(s); they resume from their watermark.")


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "__str__", "integration", "state", "lead_type", "submitted_at", "test_lead", "crm_id", "attempts", "last_error",
    )
    list_filter = ("state", "lead_type", "test_lead", "integration")
    search_fields = ("email", "linkedin_id", "crm_id")
    list_select_related = ("integration", "integration__form")
    date_hierarchy = "submitted_at"
    readonly_fields = (
        "integration", "linkedin_id", "form_version", "lead_type", "submitted_at", "test_lead", "submitter_urn",
        "associated_entity_urn", "campaign_urn", "email", "raw", "answers", "field_outcomes", "crm_id", "state",
        "attempts", "last_error", "last_attempt_at", "synced_at", "created_at", "updated_at",
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # The list never shows the payloads; don't load them for 100 rows.
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            qs = qs.defer("raw", "answers", "field_outcomes")
        return qs

    def has_add_permission(self, request):
        return False

    actions = ["retry"]

    @admin.action(description="Retry the selected failed leads", permissions=["change"])
    def retry(self, request, queryset):
        by_integration = {}
        for lead_id, integration_id in queryset.filter(state=Lead.State.FAILED).values_list("pk", "integration_id"):
            by_integration.setdefault(integration_id, []).append(lead_id)
        count = sum(len(ids) for ids in by_integration.values())
        if not count:
            self.message_user(request, "None of the selected leads has failed.", messages.WARNING)
            return
        _queue(self, request, [lambda i=i, ids=ids: tasks.retry_failed.delay(i, lead_ids=ids)
                               for i, ids in by_integration.items()],
               f"Queued a retry of {count} failed lead(s); follow it under Sync runs.")


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


@admin.register(LeadNotification)
class LeadNotificationAdmin(admin.ModelAdmin):
    """What LinkedIn's webhooks said and what LeadSync did about it. Read-only: the rows are
    LinkedIn's words; a failed one can be processed again."""

    list_display = ("__str__", "action", "state", "form_id", "lead_type", "occurred_at", "received_at",
                    "processed_at", "error")
    list_filter = ("action", "state", "lead_type")
    search_fields = ("lead_id", "form_id")
    date_hierarchy = "received_at"
    fields = ("lead_urn", "lead_id", "action", "form_id", "lead_type", "owner_urn", "occurred_at", "state", "error",
              "received_at", "processed_at", "payload_json")
    readonly_fields = fields
    actions = ["process_again"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            qs = qs.defer("payload")
        return qs

    def has_add_permission(self, request):
        return False

    @admin.display(description="payload")
    def payload_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Process the selected failed notifications again", permissions=["change"])
    def process_again(self, request, queryset):
        ids = list(queryset.filter(state__in=[LeadNotification.State.FAILED, LeadNotification.State.RECEIVED])
                   .values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "None of the selected notifications has failed or is waiting.", messages.WARNING)
            return
        try:
            for pk in ids:
                transaction.on_commit(lambda pk=pk: process_lead_notification.delay(pk))
        except Exception as exc:  # noqa: BLE001 - the broker's many failure types
            self.message_user(request, f"Could not queue the work: {type(exc).__name__}. Is the broker running?",
                              messages.ERROR)
            return
        self.message_user(request, f"Queued {len(ids)} notification(s) to be processed again.")
