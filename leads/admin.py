import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from connectors.exceptions import ApiError
from leads import tasks
from leads.integrations import IntegrationError, integration_recreate, integration_teardown
from leads.models import Lead, LeadNotification, SyncRun
from leads.pipeline.locks import SyncBusy
from leads.tasks import process_lead_notification
from mappings import engine
from mappings.forms import (
    FieldMappingForm,
    FieldMappingInlineFormSet,
    integration_catalogues,
    source_name,
)
from mappings.models import FieldMapping, Integration
from mappings.services import form_definition


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
    """The integration's mapping editor: one row per form source. Rows are made by enable and
    recreate from the form's definition, so none is added or deleted here; the CRM field and the
    transform are picked from lists, and the rows are checked together on save."""

    model = FieldMapping
    form = FieldMappingForm
    formset = FieldMappingInlineFormSet
    fields = ("source_kind", "source_label", "source_key", "crm_field", "transform", "enabled")
    readonly_fields = ("source_kind", "source_label", "source_key")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


# --- what a mapping makes of a lead -------------------------------------------------------------

STATUS_HELP = {
    "ok": "sent as it is",
    "truncated": "sent, cut to the CRM field's length",
    "empty": "no value in this lead: nothing sent",
    "unmapped": "not synced (no CRM field, or the row is disabled)",
    "error": "not sent: the value does not fit the CRM field",
}


def mapping_url(integration_id) -> str:
    """The integration's mapping in the FieldMapping list: editable by the Lead reviewers, who
    may change mappings but not integrations."""
    query = urlencode({"integration__id__exact": integration_id})
    return f"{reverse('admin:mappings_fieldmapping_changelist')}?{query}"


def _crm_field_names(system_name: str, info: dict | None) -> dict:
    """A CRM field as the tables show it: its label, and the system name the API uses."""
    return {"crm_label": info["label"] if info else "", "crm_name": system_name}


def mapping_preview(*, integration: Integration, lead: Lead, mappings=None, catalogue=None) -> dict:
    """What the CRM would get from `lead` with the integration's mapping as it is now: the same
    call the push makes (leads.pipeline.push.Pusher), without sending anything. Only lead data and
    CRM field names are in it, never a credential."""
    if mappings is None:
        mappings = list(integration.mappings.all())
    if catalogue is None:
        catalogue = integration_catalogues([integration])[integration.pk]
    by_name = {f["system_name"]: f for f in catalogue}
    mapped = engine.apply_mapping(lead.answers or {}, mappings, by_name, form=form_definition(integration.form))
    rows, not_synced = [], []
    for mapping, outcome in zip(mappings, mapped.outcomes):
        if outcome["status"] == "unmapped":
            not_synced.append(source_name(mapping))
            continue
        info = by_name.get(outcome["crm_field"])
        value = mapped.crm_object.get(outcome["crm_field"]) if outcome["status"] in engine.SENT_STATUSES else None
        rows.append({
            "source": source_name(mapping),
            **_crm_field_names(outcome["crm_field"], info),
            "value": value,
            "status": outcome["status"],
            "status_help": STATUS_HELP.get(outcome["status"], ""),
            "message": outcome["message"],
        })
    return {"lead": lead, "rows": rows, "not_synced": not_synced, "lead_error": mapped.lead_error,
            "lead_url": reverse("admin:leads_lead_change", args=[lead.pk])}


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
                result = integration_teardown(integration=integration, purge=purge)
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
                integration_recreate(form=integration.form)
            except IntegrationError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Recreated {done} integration(s); they resume from their watermark.")


class FieldProblemsFilter(admin.SimpleListFilter):
    """Leads with a field the CRM did not get whole (an error or a truncated value), whatever the
    lead's state: LGF-109 syncs such a lead and records the problem on it. JSON containment is not
    portable (SQLite has none), so this matches the outcome's text, which Django writes with
    json.dumps on SQLite and PostgreSQL prints back from jsonb in the same `"key": "value"` form."""

    title = "field problems"
    parameter_name = "field_problems"
    PROBLEMS = engine.FIELD_PROBLEMS

    def lookups(self, request, model_admin):
        return [("yes", "Has field problems"), ("no", "No field problems")]

    def queryset(self, request, queryset):
        matches = Q()
        for status in self.PROBLEMS:
            matches |= Q(field_outcomes__icontains=f'"status": "{status}"')
        if self.value() == "yes":
            return queryset.filter(matches)
        if self.value() == "no":
            return queryset.exclude(matches)
        return queryset


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def lead_answers(lead: Lead) -> dict:
    """The normalised lead (leads.normalize) as rows a person reads: questions, hidden fields,
    consents, and what could not be read."""
    answers = lead.answers or {}
    questions = [
        {"id": question_id, "label": answer.get("text") or answer.get("name") or f"Question {question_id}",
         "predefined": answer.get("predefined_field") or "", "value": _text(answer.get("value"))}
        for question_id, answer in (answers.get("answers") or {}).items()
    ]
    consents = [
        {"id": consent_id, "label": consent.get("text") or f"Consent {consent_id}", "accepted": consent.get("accepted")}
        for consent_id, consent in (answers.get("consents") or {}).items()
    ]
    return {"questions": questions, "consents": consents,
            "hidden_fields": [{"name": name, "value": _text(value)}
                              for name, value in (answers.get("hidden_fields") or {}).items()],
            "errors": answers.get("errors") or []}


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    """Where staff review leads: why one failed (the CRM's answer and each field's outcome), what
    the mapping makes of it now, the answers as the member gave them, and a retry."""

    change_form_template = "admin/leads/lead/change_form.html"
    list_display = (
        "__str__", "integration", "state", "lead_type", "submitted_at", "test_lead", "crm_id", "attempts", "last_error",
        "mapping",
    )
    list_filter = ("state", FieldProblemsFilter, "lead_type", "test_lead", "integration")
    search_fields = ("email", "linkedin_id", "crm_id")
    list_select_related = ("integration", "integration__form")
    date_hierarchy = "submitted_at"
    # The last error, the outcomes, the answers and the payload are shown by the page's template
    # (a banner, tables, a folded payload), not as JSON.
    fieldsets = (
        (None, {"fields": ("state", "integration", "email", "crm_id", "attempts", "last_attempt_at", "synced_at")}),
        ("LinkedIn", {"classes": ("collapse",), "fields": (
            "linkedin_id", "form_version", "lead_type", "submitted_at", "test_lead", "submitter_urn",
            "associated_entity_urn", "campaign_urn", "created_at", "updated_at",
        )}),
    )
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # The list never shows the payloads; don't load them for 100 rows.
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            qs = qs.defer("raw", "answers", "field_outcomes")
        else:
            qs = qs.select_related("integration__form")
        return qs

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<int:pk>/retry/", self.admin_site.admin_view(self.retry_view), name="%s_%s_retry" % info),
        ] + super().get_urls()

    def retry_view(self, request, pk):
        """The lead page's "Retry this lead": the Retry action for the lead the reviewer is on."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        lead = get_object_or_404(Lead.objects.only("pk", "integration_id", "state"), pk=pk)
        if not self.has_change_permission(request, lead):
            raise PermissionDenied
        self.retry(request, Lead.objects.filter(pk=lead.pk))
        return redirect(reverse("admin:leads_lead_change", args=[lead.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["review"] = self.review_context(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def review_context(self, lead: Lead) -> dict:
        """What the lead page shows beyond its fields; a handful of queries whatever the form's size."""
        integration = lead.integration
        mappings = list(integration.mappings.all())
        catalogue = integration_catalogues([integration])[integration.pk]
        by_name = {f["system_name"]: f for f in catalogue}
        by_source = {(m.source_kind, m.source_key): m for m in mappings}
        # After saving a row, back to the integration's mapping (the admin's preserved filters).
        back = urlencode({"_changelist_filters": urlencode({"integration__id__exact": integration.pk})})
        outcomes = []
        for outcome in lead.field_outcomes or []:
            if not isinstance(outcome, dict):
                continue
            source = (str(outcome.get("source_kind")), str(outcome.get("source_key")))
            mapping = by_source.get(source)  # None once the row is gone (a form version that dropped it)
            crm_field = outcome.get("crm_field") or ""
            outcomes.append({
                "source": source_name(mapping) if mapping else ":".join(source),
                **_crm_field_names(crm_field, by_name.get(crm_field)),
                "status": outcome.get("status") or "",
                "status_help": STATUS_HELP.get(outcome.get("status"), ""),
                "message": outcome.get("message") or "",
                "edit_url": f"{reverse('admin:mappings_fieldmapping_change', args=[mapping.pk])}?{back}"
                            if mapping else "",
            })
        deleted = lead.state == Lead.State.DELETED
        return {
            "mapping_url": mapping_url(integration.pk),
            "outcomes": outcomes,
            "problems": sum(1 for o in outcomes if o["status"] in FieldProblemsFilter.PROBLEMS),
            "preview": None if deleted else mapping_preview(integration=integration, lead=lead, mappings=mappings,
                                                            catalogue=catalogue),
            "answers": lead_answers(lead),
            "raw": json.dumps(lead.raw, indent=2, ensure_ascii=False, sort_keys=True),
            "deleted": deleted,
            "retry_url": reverse("admin:leads_lead_retry", args=[lead.pk]) if lead.state == Lead.State.FAILED else "",
        }

    @admin.display(description="mapping")
    def mapping(self, obj):
        return format_html('<a href="{}">Edit mapping</a>', mapping_url(obj.integration_id))

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
