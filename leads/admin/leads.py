"""Where staff review leads: why one failed, each field's outcome, what the mapping makes of it
now, the answers as the member gave them, and a retry."""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from leads import tasks
from leads.admin.common import queue_after_commit
from leads import events
from leads.admin.datastore import LeadDatastoreMixin, answer_label, answer_text
from leads.admin.lead_answers import LeadAnswersAdminMixin
from leads.admin.mappings import STATUS_HELP, crm_field_names, mapping_preview, mapping_url
from leads.answers import lead_answers_editable
from leads.history import lead_history
from leads.models import Lead, LeadEvent
from mappings import engine
from mappings.forms import integration_catalogues, source_name


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


def lead_answers(lead: Lead) -> dict:
    """The normalised lead (leads.normalize) as rows a person reads: questions, hidden fields,
    consents, and what could not be read."""
    answers = lead.answers or {}
    questions = [
        {"id": question_id, "label": answer_label(question_id, answer),
         "predefined": answer.get("predefined_field") or "", "value": answer_text(answer.get("value"))}
        for question_id, answer in (answers.get("answers") or {}).items()
    ]
    consents = [
        {"id": consent_id, "label": consent.get("text") or f"Consent {consent_id}", "accepted": consent.get("accepted")}
        for consent_id, consent in (answers.get("consents") or {}).items()
    ]
    return {"questions": questions, "consents": consents,
            "hidden_fields": [{"name": name, "value": answer_text(value)}
                              for name, value in (answers.get("hidden_fields") or {}).items()],
            "errors": answers.get("errors") or []}


@admin.register(Lead)
class LeadAdmin(LeadAnswersAdminMixin, LeadDatastoreMixin, admin.ModelAdmin):
    """Where staff review leads: why one failed (the CRM's answer and each field's outcome), what
    the mapping makes of it now, the answers as the member gave them, and a retry. The list leads
    to each form's table of leads and exports as CSV (LeadDatastoreMixin)."""

    change_form_template = "admin/leads/lead/change_form.html"
    change_list_template = "admin/leads/lead/change_list.html"
    list_display = (
        "__str__", "integration", "state", "lead_type", "submitted_at", "test_lead", "crm_id", "attempts", "last_error",
        "mapping",
    )
    list_filter = ("state", FieldProblemsFilter, "error_code", "lead_type", "test_lead", "integration")
    search_fields = ("email", "linkedin_id", "crm_id")
    list_select_related = ("integration", "integration__form")
    date_hierarchy = "submitted_at"
    # The last error, the outcomes, the answers and the payload are shown by the page's template
    # (a banner, tables, a folded payload), not as JSON.
    fieldsets = (
        (None, {"fields": ("state", "integration", "email", "crm_id", "attempts", "last_attempt_at", "error_code",
                           "retries", "retry_at", "synced_at")}),
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
        elif self.datastore_page(request):
            qs = self.datastore_queryset(request, qs)
        else:
            qs = qs.select_related("integration__form")
        return qs

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<int:pk>/retry/", self.admin_site.admin_view(self.retry_view), name="%s_%s_retry" % info),
            path("<int:pk>/answers/", self.admin_site.admin_view(self.answers_view), name="%s_%s_answers" % info),
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
                **crm_field_names(crm_field, by_name.get(crm_field)),
                "status": outcome.get("status") or "",
                "status_help": STATUS_HELP.get(outcome.get("status"), ""),
                "message": outcome.get("message") or "",
                "edit_url": f"{reverse('admin:mappings_fieldmapping_change', args=[mapping.pk])}?{back}"
                            if mapping else "",
            })
        deleted = lead.state == Lead.State.DELETED
        attempts = list(lead.push_attempts.select_related("run").order_by("at", "pk"))
        return {
            "mapping_url": mapping_url(integration.pk),
            "outcomes": outcomes,
            "problems": sum(1 for o in outcomes if o["status"] in FieldProblemsFilter.PROBLEMS),
            "preview": None if deleted else mapping_preview(integration=integration, lead=lead, mappings=mappings,
                                                            catalogue=catalogue),
            "answers": lead_answers(lead),
            "raw": json.dumps(lead.raw, indent=2, ensure_ascii=False, sort_keys=True),
            "deleted": deleted,
            "attempts": attempts,
            "retry_limit": settings.LEADSYNC_LEAD_RETRIES,
            "retry_url": reverse("admin:leads_lead_retry", args=[lead.pk]) if lead.state == Lead.State.FAILED else "",
            "answers_url": reverse("admin:leads_lead_answers", args=[lead.pk]) if lead_answers_editable(lead) else "",
            "history": lead_history(lead=lead, attempts=attempts),
        }

    @admin.display(description="mapping")
    def mapping(self, obj):
        return format_html('<a href="{}">Edit mapping</a>', mapping_url(obj.integration_id))

    actions = ["retry", "export_csv"]

    @admin.action(description="Retry the selected failed leads", permissions=["change"])
    def retry(self, request, queryset):
        by_integration = {}
        for lead_id, integration_id in queryset.filter(state=Lead.State.FAILED).values_list("pk", "integration_id"):
            by_integration.setdefault(integration_id, []).append(lead_id)
        count = sum(len(ids) for ids in by_integration.values())
        if not count:
            self.message_user(request, "None of the selected leads has failed.", messages.WARNING)
            return
        # Recorded before the task is queued, which may run it at once (an eager Celery, autocommit):
        # the retry comes before its push in the history. Taken back when nothing could be queued.
        recorded = events.record([i for ids in by_integration.values() for i in ids], LeadEvent.Kind.RETRIED,
                                 request.user.get_username(), LeadEvent.Via.ADMIN)
        if not queue_after_commit(self, request, [lambda i=i, ids=ids: tasks.retry_failed.delay(i, lead_ids=ids)
                                                  for i, ids in by_integration.items()],
                                  f"Queued a retry of {count} failed lead(s); follow it under Sync runs."):
            events.events_forget(recorded)
