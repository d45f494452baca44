"""The integrations' admin: the page with its settings, mapping editor, review flag and previews
(of the mapping as saved and as edited), the backfill and mapping import pages, the mapping export,
and the actions (sync now, retry, pause, resume, tear down, recreate, mark the mapping reviewed)
that call the same services as the CLI."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime

from connectors.exceptions import LeadSyncError
from connectors.models import LeadForm
from leads import events, tasks
from leads.admin.common import queue_after_commit
from leads.admin.mappings import FieldMappingInline, is_preview, mapping_preview, newest_lead
from leads.admin.runs import PROGRESS_FIELDS, progress_json
from leads.models import Lead, LeadEvent, SyncRun
from leads.selectors import run_progress
from leads.integrations import (
    MAX_SYNC_MINUTES,
    integration_pause,
    integration_recreate,
    integration_edits_record,
    integration_resume,
    integration_schedule_follow,
    integration_teardown,
)
from mappings.audit import admin_user, form_edits, mapping_edited, sync_started
from mappings.forms import source_name
from mappings.models import FieldMapping, Integration, IntegrationEvent
from mappings.services import (
    integration_mapping_reviewed,
    mapping_export,
    mapping_fields_create,
    mapping_fields_suggested,
    mapping_import,
)

MAX_MAPPING_FILE_BYTES = 2 * 1024 * 1024


class BackfillForm(forms.Form):
    days = forms.IntegerField(
        min_value=1, max_value=90, initial=90, label="Days",
        help_text="Re-pull the leads submitted in this many past days (1 to 90).",
    )


class CreateCrmFieldsForm(forms.Form):
    sources = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Create as new CRM fields",
        help_text="Each ticked source gets a CRM custom field with this label and type, and its row is mapped to it "
                  "(a field the CRM already has under that label is used, not made twice).")

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sources"].choices = choices


class MappingImportForm(forms.Form):
    mapping_file = forms.FileField(
        label="Mapping file",
        help_text="A JSON document from “Export mapping” or “leadsync mapping export” (of this integration, or of "
                  "another whose form has the same sources).",
    )


class IntegrationForm(forms.ModelForm):
    """The integration as an admin edits it: which of the form's lead types to pull (checkboxes;
    none ticked = all the form receives), how often (1 minute to a week), and whether it runs
    (active or paused: a torn-down integration's state changes only through recreate, and its page
    shows its state read-only)."""

    lead_types = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Lead types",
        help_text="Which of the form's lead types to pull; none ticked = all the form receives.",
    )
    sync_every_minutes = forms.IntegerField(
        min_value=1, max_value=MAX_SYNC_MINUTES, label="Sync every (minutes)",
        help_text=f"How often the scheduled pull runs: 1 to {MAX_SYNC_MINUTES} minutes (a week).",
    )

    class Meta:
        model = Integration
        fields = ("name", "state", "lead_types", "sync_every_minutes", "include_test_leads", "on_linkedin_delete")
        widgets = {"on_linkedin_delete": forms.RadioSelect}
        help_texts = {
            "state": "Active: the schedule pulls and pushes. Paused: no scheduled pull runs (nothing is lost: the "
                     "next pull after resuming starts from the watermark). Tear down and recreate are actions.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        form = self.instance.form if self.instance.form_id else None
        receives = set(form.receives()) if form else set(LeadForm.LeadType.values)
        receives |= set(self.instance.lead_types or [])  # a stored type the form no longer lists shows as itself
        self.fields["lead_types"].choices = [(t.value, t.label) for t in LeadForm.LeadType if t.value in receives]
        if "state" in self.fields:
            self.fields["state"].choices = [(value, label) for value, label in Integration.State.choices
                                            if value != Integration.State.TORN_DOWN]

    def clean_lead_types(self):
        chosen = set(self.cleaned_data["lead_types"])
        return [t.value for t in LeadForm.LeadType if t.value in chosen]


class MappingReviewFilter(admin.SimpleListFilter):
    title = "mapping needs review"
    parameter_name = "mapping_review"

    def lookups(self, request, model_admin):
        return [("yes", "Needs review"), ("no", "Reviewed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(mapping_review={})
        if self.value() == "no":
            return queryset.filter(mapping_review={})
        return queryset


def review_summary(integration: Integration) -> dict | None:
    """The "mapping needs review" flag as the page shows it: the version, since when, and the
    sources it added and removed, named like the editor names rows."""
    review = integration.mapping_review or {}
    if not review:
        return None

    def names(sources):
        return [source_name(FieldMapping(source_kind=s.get("source_kind", ""), source_key=s.get("source_key", ""),
                                         source_label=s.get("source_label", ""))) for s in sources or []]

    return {"version": review.get("version"), "since": parse_datetime(review.get("since") or ""),
            "added": names(review.get("added")), "removed": names(review.get("removed"))}


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    actions = ["sync_now", "retry_failed_leads", "pause", "resume", "mark_mapping_reviewed", "tear_down",
               "tear_down_and_purge", "recreate"]
    change_form_template = "admin/leads/integration/change_form.html"
    list_display = (
        "__str__", "form", "crm_connection", "state", "sync_every_minutes", "mapping_needs_review", "watermark",
        "last_sync_at",
    )
    list_filter = ("state", MappingReviewFilter, "on_linkedin_delete", "crm_connection")
    search_fields = ("name", "form__name", "form__linkedin_id")
    list_select_related = ("form", "crm_connection")
    fieldsets = (
        (None, {"fields": ("name", "form", "crm_connection", "state", "lead_types", "sync_every_minutes",
                           "include_test_leads", "on_linkedin_delete")}),
        ("Schedule and history", {"fields": ("periodic_task", "watermark", "last_sync_at", "webhook_subscriptions",
                                             "torn_down_at", "recreated_at", "reconciled_at", "reconciliation")}),
        ("Preview", {"fields": ("preview",)}),
    )
    readonly_fields = (
        "form", "crm_connection", "periodic_task", "watermark", "webhook_subscriptions", "last_sync_at",
        "torn_down_at", "recreated_at", "reconciled_at", "reconciliation", "preview",
    )
    inlines = [FieldMappingInline]

    def get_queryset(self, request):
        # The page shows the beat entry by name, which names its interval: both come with the row.
        return super().get_queryset(request).select_related("form__owner", "crm_connection",
                                                            "periodic_task__interval")

    @admin.display(description="Last reconciliation")
    def reconciliation(self, obj):
        """LinkedIn's count against what is stored, in words."""
        r = obj.reconcile_result or {}
        if not r:
            return "Not reconciled yet (daily, or `leadsync reconcile`)."
        said = {"complete": "complete", "missing": "leads still missing", "unknown": "LinkedIn gave no count"}
        text = (f"{said.get(r.get('state'), r.get('state'))}: LinkedIn counts {r.get('linkedin')}, "
                f"{r.get('stored_before')} were stored")
        if r.get("repulled"):
            text += f"; the window was pulled again (run {r.get('run')}), {r.get('stored_after')} stored now"
        return text + f" (window from {str(r.get('window_start', ''))[:16]})."

    def has_add_permission(self, request):
        # An integration is made whole by leads.integrations.integration_enable (CRM fields, the
        # mapping, the schedule, the subscriptions); a bare row typed here would be none of that.
        return False

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.state == Integration.State.TORN_DOWN:
            return readonly + ("state",)  # recreate is the way back
        return readonly

    @admin.display(description="mapping needs review", boolean=True, ordering="mapping_review")
    def mapping_needs_review(self, obj):
        return obj.mapping_needs_review

    # --- saving -------------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        # Only what the page edits: a sync running meanwhile moves this row's watermark and holds its lock.
        obj.save(update_fields=[*form.cleaned_data, "updated_at"])

    def save_related(self, request, form, formsets, change):
        """The mapping rows, then what follows from the edits, in the change form's transaction: an
        edited mapping is a reviewed one, the beat entry takes the interval and state, and the audit
        trail records what changed (settings, and the mapping rows with their old and new values)."""
        super().save_related(request, form, formsets, change)
        integration = form.instance
        if integration.mapping_review and any(formset.has_changed() for formset in formsets
                                              if formset.model is FieldMapping):
            integration_mapping_reviewed(integration=integration, by=None)  # the edit's own event says it
        integration_schedule_follow(integration=integration)
        if change:
            by = admin_user(request.user)
            integration_edits_record(integration=integration, by=by, changes={
                name: (form.initial.get(name), form.cleaned_data[name]) for name in form.changed_data
                if name in form.cleaned_data})
            mapping_edited(integration=integration, by=by, rows=[
                form_edits(row_form) for formset in formsets if formset.model is FieldMapping
                for row_form in formset.forms])

    # --- the page -----------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        integration = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if integration is not None:
            context.update(
                mapping_review=review_summary(integration),
                can_import_mapping=self._can_import_mapping(request),
                run_progress=self._latest_run_progress(integration.pk),
                progress_url=reverse("admin:mappings_integration_progress", args=[integration.pk]),
                **self._audit_trail(request, integration),
            )
        return super().change_view(request, object_id, form_url, context)

    AUDIT_TRAIL_SHOWN = 50

    def _audit_trail(self, request, integration) -> dict:
        """The newest events of the integration's audit trail (one query), for whoever may view the trail."""
        opts = IntegrationEvent._meta
        if not request.user.has_perm(f"{opts.app_label}.{get_permission_codename('view', opts)}"):
            return {}
        events = list(IntegrationEvent.objects.filter(integration_id=integration.pk)
                      .only("at", "kind", "actor", "via", "summary").order_by("-at", "-pk")[:self.AUDIT_TRAIL_SHOWN])
        return {"audit_events": events, "audit_shown": self.AUDIT_TRAIL_SHOWN,
                "audit_url": reverse("admin:mappings_integrationevent_changelist")
                + f"?integration__id__exact={integration.pk}"}

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None and is_preview(request):
            context["edits_preview"] = self._edits_preview(obj, context)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _edits_preview(self, integration, context) -> dict:
        """The newest stored lead through the mapping as edited on the page, if the edits would save."""
        formsets = [inline.formset for inline in context["inline_admin_formsets"]
                    if inline.formset.model is FieldMapping]
        if context["adminform"].form.errors or not all(formset.edits_valid for formset in formsets):
            return {"refused": True}
        if not formsets:
            return {"no_lead": True}
        lead = newest_lead(integration)
        rows = [form.instance for form in formsets[0].forms]
        return {"preview": mapping_preview(integration=integration, lead=lead, mappings=rows)}

    @admin.display(description="As saved")
    def preview(self, obj):
        """The newest stored lead through the mapping as saved, so an admin sees what the CRM would
        get before the next sync sends it."""
        if obj is None or not obj.pk:
            return "—"
        lead = newest_lead(obj)
        return render_to_string("admin/leads/mapping_preview.html",
                                {"preview": mapping_preview(integration=obj, lead=lead), "newest": True})

    # --- pages and buttons of one integration ---------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/backfill/", view(self.backfill_view), name="%s_%s_backfill" % info),
            path("<int:pk>/progress.json", view(self.progress_view), name="%s_%s_progress" % info),
            path("<int:pk>/pause/", view(self.pause_view), name="%s_%s_pause" % info),
            path("<int:pk>/resume/", view(self.resume_view), name="%s_%s_resume" % info),
            path("<int:pk>/mapping-reviewed/", view(self.mapping_reviewed_view), name="%s_%s_mapping_reviewed" % info),
            path("<int:pk>/export-mapping/", view(self.export_mapping_view), name="%s_%s_export_mapping" % info),
            path("<int:pk>/import-mapping/", view(self.import_mapping_view), name="%s_%s_import_mapping" % info),
            path("<int:pk>/create-crm-fields/", view(self.create_crm_fields_view),
                 name="%s_%s_create_crm_fields" % info),
        ] + super().get_urls()

    def _integration(self, request, pk, *, change=True):
        integration = get_object_or_404(self.get_queryset(request), pk=pk)
        allowed = self.has_change_permission(request, integration) if change else \
            self.has_view_or_change_permission(request, integration)
        if not allowed:
            raise PermissionDenied
        return integration

    def _change_url(self, integration):
        return reverse("admin:%s_%s_change" % (self.opts.app_label, self.opts.model_name), args=[integration.pk])

    def _can_import_mapping(self, request) -> bool:
        """The import changes mapping rows only: whoever may change them (the Lead reviewers too) may."""
        opts = FieldMapping._meta
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    @staticmethod
    def _latest_run_progress(pk) -> dict:
        """The integration's newest run as its bar shows it (one query), or "no run yet"."""
        run = SyncRun.objects.filter(integration_id=pk).only(*PROGRESS_FIELDS).order_by("-created_at", "-pk").first()
        if run is None:
            return {"run": None, "state": "none", "stage": "no run yet", "finished": True, "percent": None}
        return {**run_progress(run), "run_url": reverse("admin:leads_syncrun_change", args=[run.pk])}

    def progress_view(self, request, pk):
        """The integration's newest run's progress, for the bar on its page (its backfills, syncs
        and retries as they go): permission-checked, counts only, two queries at most."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if not Integration.objects.filter(pk=pk).exists():
            raise Http404
        return progress_json(self._latest_run_progress(pk))

    def backfill_view(self, request, pk):
        """The admin's twin of `leadsync sync FORM_ID --days N` (LGF-107), run on a worker."""
        integration = self._integration(request, pk)
        if integration.state == Integration.State.TORN_DOWN:
            raise PermissionDenied
        runs_url = reverse("admin:leads_syncrun_changelist") + f"?integration__id__exact={integration.pk}"
        form = BackfillForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            days = form.cleaned_data["days"]
            sync_started(integration=integration, by=admin_user(request.user), trigger=SyncRun.Trigger.BACKFILL,
                         days=days)
            queue_after_commit(self, request, [lambda: tasks.sync_integration.delay(integration.pk, trigger="backfill", days=days)],
                   f"Queued a backfill of the last {days} days for {integration}; its progress shows here.")
            return redirect(self._change_url(integration))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": integration, "form": form,
                   "runs_url": runs_url, "title": f"Backfill {integration}"}
        return TemplateResponse(request, "admin/leads/integration/backfill.html", context)

    def create_crm_fields_view(self, request, pk):
        """The mapping editor's "create as a new CRM field" (twin of `leadsync mapping create-fields`):
        the unmapped sources with the label and type their field would get; the ticked ones are made
        in the CRM and mapped."""
        integration = self._integration(request, pk)
        if not self._can_import_mapping(request):
            raise PermissionDenied
        suggestions = mapping_fields_suggested(integration=integration)
        choices = [(f"{kind}:{key}", f"{field['label']} ({field['dataType']}, from a {kind})")
                   for kind, key, field in suggestions]
        form = CreateCrmFieldsForm(request.POST or None, choices=choices)
        if request.method == "POST" and form.is_valid():
            sources = {tuple(value.split(":", 1)) for value in form.cleaned_data["sources"]}
            try:
                mapped = mapping_fields_create(integration=integration, sources=sources, by=admin_user(request.user))
            except LeadSyncError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Created and mapped {len(mapped)} CRM field(s): "
                                           + ", ".join(f"{m['source_label']} → {m['crm_field']}" for m in mapped) + ".")
                return redirect(self._change_url(integration))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": integration, "form": form,
                   "title": f"Create CRM fields for {integration}"}
        return TemplateResponse(request, "admin/leads/integration/create_crm_fields.html", context)

    def _button(self, request, pk, call, done):
        """A button of the page: POST only (it changes something), the service's refusal as a warning."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        integration = self._integration(request, pk)
        try:
            call(integration=integration, by=admin_user(request.user))
        except LeadSyncError as exc:
            self.message_user(request, str(exc), messages.WARNING)
        else:
            self.message_user(request, done.format(integration=integration))
        return redirect(self._change_url(integration))

    def pause_view(self, request, pk):
        """The admin's twin of `leadsync pause FORM_ID`."""
        return self._button(request, pk, integration_pause,
                            "Paused {integration}: no scheduled pull runs until it is resumed.")

    def resume_view(self, request, pk):
        """The admin's twin of `leadsync resume FORM_ID`."""
        return self._button(request, pk, integration_resume,
                            "Resumed {integration}: its next scheduled pull starts from its watermark.")

    def mapping_reviewed_view(self, request, pk):
        """The admin's twin of `leadsync mapping reviewed FORM_ID`."""
        return self._button(request, pk, integration_mapping_reviewed,
                            "The mapping of {integration} is marked reviewed.")

    def export_mapping_view(self, request, pk):
        """The admin's twin of `leadsync mapping export FORM_ID`: the document as a download."""
        integration = self._integration(request, pk, change=False)
        document = mapping_export(integration=integration)
        response = HttpResponse(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mapping-{integration.form.linkedin_id}.json"'
        return response

    def import_mapping_view(self, request, pk):
        """The admin's twin of `leadsync mapping import FORM_ID FILE`: refused as a whole, with the
        reasons on the page and nothing changed, or done."""
        integration = self._integration(request, pk, change=False)
        if not self._can_import_mapping(request):
            raise PermissionDenied
        form = MappingImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            document = self._read_document(form)
            if document is not None:
                try:
                    summary = mapping_import(integration=integration, document=document,
                                             by=admin_user(request.user))
                except LeadSyncError as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(request, (
                        f"Imported the mapping into {integration}: {summary['updated']} rows changed, "
                        f"{summary['created']} added, {summary['unchanged']} already so, {summary['kept']} not in the "
                        f"file kept as they were."))
                    return redirect(self._change_url(integration))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": integration, "form": form,
                   "title": f"Import a mapping into {integration}"}
        return TemplateResponse(request, "admin/leads/integration/import_mapping.html", context)

    @staticmethod
    def _read_document(form):
        upload = form.cleaned_data["mapping_file"]
        if upload.size > MAX_MAPPING_FILE_BYTES:
            form.add_error("mapping_file", "This file is far larger than a mapping: pick the exported JSON file.")
            return None
        try:
            return json.loads(upload.read().decode("utf-8"))
        except UnicodeDecodeError:
            form.add_error("mapping_file", "This file is not text (UTF-8): pick the exported JSON file.")
        except json.JSONDecodeError as exc:
            form.add_error("mapping_file", f"This file is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")
        return None

    # --- actions ------------------------------------------------------------------------------------

    @staticmethod
    def _started(request, queryset, trigger) -> list[int]:
        """The live integrations selected, each with its start recorded in the audit trail."""
        integrations = list(queryset.exclude(state=Integration.State.TORN_DOWN))
        for integration in integrations:
            sync_started(integration=integration, by=admin_user(request.user), trigger=trigger)
        return [integration.pk for integration in integrations]

    @admin.action(description="Sync now (pull and push)")
    def sync_now(self, request, queryset):
        ids = self._started(request, queryset, SyncRun.Trigger.MANUAL)
        queue_after_commit(self, request, [lambda pk=pk: tasks.sync_integration.delay(pk, trigger="manual") for pk in ids],
               f"Queued a sync of {len(ids)} integration(s); follow it under Sync runs.")

    @admin.action(description="Retry failed leads")
    def retry_failed_leads(self, request, queryset):
        ids = self._started(request, queryset, SyncRun.Trigger.RETRY)
        # Recorded first (see LeadAdmin.retry), taken back when nothing could be queued.
        failed = Lead.objects.filter(integration_id__in=ids, state=Lead.State.FAILED).values_list("pk", flat=True)
        recorded = events.record(list(failed), LeadEvent.Kind.RETRIED, request.user.get_username(), LeadEvent.Via.ADMIN)
        if not queue_after_commit(self, request, [lambda pk=pk: tasks.retry_failed.delay(pk) for pk in ids],
                                  f"Queued a retry of the failed leads of {len(ids)} integration(s); follow it under "
                                  "Sync runs."):
            events.events_forget(recorded)

    def _each(self, request, queryset, call, done):
        """`call` on each selected integration; the count done, and each refusal as a warning."""
        count, refusals = 0, []
        for integration in queryset.select_related("form"):
            try:
                call(integration=integration, by=admin_user(request.user))
            except LeadSyncError as exc:
                refusals.append(str(exc))
                continue
            count += 1
        self.message_user(request, done.format(count=count), messages.SUCCESS if count else messages.WARNING)
        for refusal in refusals:
            self.message_user(request, refusal, messages.WARNING)

    @admin.action(description="Pause (stop the schedule, keep everything)", permissions=["change"])
    def pause(self, request, queryset):
        self._each(request, queryset, integration_pause,
                   "Paused {count} integration(s): no scheduled pull runs until they are resumed.")

    @admin.action(description="Resume (restart the schedule)", permissions=["change"])
    def resume(self, request, queryset):
        self._each(request, queryset, integration_resume,
                   "Resumed {count} integration(s): the next scheduled pull starts from the watermark.")

    @admin.action(description="Mark the mapping reviewed", permissions=["change"])
    def mark_mapping_reviewed(self, request, queryset):
        flagged = queryset.exclude(mapping_review={})
        self._each(request, flagged, integration_mapping_reviewed,
                   "Marked the mapping of {count} integration(s) reviewed.")

    def _tear_down(self, request, queryset, purge):
        done, problems = 0, []
        for integration in queryset.select_related("form__owner__connection"):
            try:
                result = integration_teardown(integration=integration, purge=purge, by=admin_user(request.user))
            except LeadSyncError as exc:
                problems.append(f"{integration}: {exc}")
                continue
            if result["already"]:
                problems.append(f"{integration} was already torn down: nothing was left to do.")
                continue
            done += 1
            if result["stopped_sync"]:
                problems.append(f"{integration}: a sync of it was running; it stops at its next page or CRM call.")
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
                integration_recreate(form=integration.form, by=admin_user(request.user))
            except LeadSyncError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Recreated {done} integration(s); they resume from their watermark.")
