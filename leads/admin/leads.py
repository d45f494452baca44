"""Where staff review leads: why one failed, each field's outcome, what the mapping makes of it
now, the answers as the member gave them, and a retry."""

import json
from collections import Counter
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from leads import tasks
from leads.admin.common import queue_after_commit
from leads import events
from leads.admin.datastore import LeadDatastoreMixin, answer_label, answer_text
from leads.admin.lead_answers import LeadAnswersAdminMixin
from leads.admin.mappings import STATUS_HELP, crm_field_names, mapping_preview, mapping_url
from leads.answers import lead_answers_editable
from leads.dashboard import day_start
from leads.history import lead_history
from leads.models import Lead, LeadEvent
from leads.review import leads_ignore, leads_unignore
from mappings import engine
from mappings.forms import integration_catalogues, source_name
from mappings.models import Integration


# Outcomes are stored as arrays (leadsync_project.fields.OutcomesField): source kind, source key, CRM
# field, status, message. An outcome's array begins after the list's "[" or a ","; its first three
# values are strings (escaped quotes and all) or null. The text has ", " between values where Django
# wrote it (json.dumps) or PostgreSQL prints it back, "," where the push wrote it on SQLite (orjson):
# the patterns take both. No look-ahead or class shorthands, which SQLite's (Python's) and
# PostgreSQL's regular expressions would not spell alike.
_STRING_OR_NULL = r'("([^"\\]|\\.)*"|null)'


def _status_outcome(status: str) -> str:
    """A pattern for an outcome whose status is `status`; what follows it is its message."""
    return rf'(\[|,) ?\[{_STRING_OR_NULL}, ?{_STRING_OR_NULL}, ?{_STRING_OR_NULL}, ?"{status}"'


_ERROR_OUTCOME = _status_outcome("error") + ', ?"'

REFUSED_NOTE = "refused by the CRM"  # how leads.pipeline.push._strip_refused begins its note


class FieldProblemsFilter(admin.SimpleListFilter):
    """Leads with a field the CRM did not get whole, whatever the lead's state (LGF-109 syncs such
    a lead and records the problem on it), and by kind of problem: a field the CRM refused (the
    push sent the lead again without it), a value that did not fit its CRM field (the mapping left
    it out), a value cut to the field's length. JSON containment is not portable (SQLite has none),
    so this matches the outcome's text (with or without a space after the colon: see _ERROR_OUTCOME)."""

    title = "field problems"
    parameter_name = "field_problems"
    PROBLEMS = engine.FIELD_PROBLEMS
    KINDS = {
        "refused": ("Refused by the CRM (left out)", Q(field_outcomes__regex=_ERROR_OUTCOME + REFUSED_NOTE)),
        # An error whose message is not the refusal note: no look-ahead, which SQLite's and
        # PostgreSQL's regular expressions would not spell alike.
        "invalid": ("Value did not fit (not sent)",
                    Q(field_outcomes__regex=_ERROR_OUTCOME + "([^r]|r[^e]|re[^f]|ref[^u])")),
        "truncated": ("Cut to the field's length", Q(field_outcomes__regex=_status_outcome("truncated"))),
    }

    def lookups(self, request, model_admin):
        return [("yes", "Has field problems"), *((kind, label) for kind, (label, _) in self.KINDS.items()),
                ("no", "No field problems")]

    def queryset(self, request, queryset):
        matches = Q()
        for status in self.PROBLEMS:
            matches |= Q(field_outcomes__regex=_status_outcome(status))
        if self.value() == "yes":
            return queryset.filter(matches)
        if self.value() == "no":
            return queryset.exclude(matches)
        if self.value() in self.KINDS:
            return queryset.filter(self.KINDS[self.value()][1])
        return queryset


class ErrorCodeFilter(admin.SimpleListFilter):
    """The last push's error code (the CRM's own, or lost / unreachable / mapping / contradiction),
    offered for the codes failed leads have now, with how many have each ("205 (12)"): what a
    reviewer works through, one cause at a time. One query (error_code is indexed)."""

    title = "CRM error code"
    parameter_name = "error_code"

    def lookups(self, request, model_admin):
        rows = (Lead.objects.filter(state=Lead.State.FAILED).exclude(error_code="").order_by("error_code")
                .values("error_code").annotate(n=Count("pk")).values_list("error_code", "n"))
        return [(code, f"{code} ({n})") for code, n in rows]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(error_code=self.value())
        return queryset


class SubmittedAgeFilter(admin.SimpleListFilter):
    """How long ago the member submitted the lead, counted in whole local days as the dashboard
    counts its leads today / 7 days / 30 days."""

    title = "submitted"
    parameter_name = "submitted"
    DAYS = {"today": 0, "7d": 6, "30d": 29}

    def lookups(self, request, model_admin):
        return [("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("older", "Older than 30 days")]

    def queryset(self, request, queryset):
        today = day_start(timezone.now())
        if self.value() in self.DAYS:
            return queryset.filter(submitted_at__gte=today - timedelta(days=self.DAYS[self.value()]))
        if self.value() == "older":
            return queryset.filter(submitted_at__lt=today - timedelta(days=self.DAYS["30d"]))
        return queryset


class IgnoreForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000, strip=True,
        help_text="Why these leads are set aside (kept on each lead, with who and when). Required.")


# The badge of each lead state, in the stock admin's colours (leads/static/leadsync/admin.css).
STATE_BADGES = {
    Lead.State.SYNCED: "ok", Lead.State.FAILED: "error", Lead.State.PENDING: "warning",
    Lead.State.IGNORED: "muted", Lead.State.SKIPPED: "muted", Lead.State.DELETED: "muted",
}


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
        "__str__", "integration", "status", "lead_type", "submitted_at", "test_lead", "crm_id", "attempts", "last_error",
        "mapping",
    )
    list_filter = ("state", ErrorCodeFilter, FieldProblemsFilter, SubmittedAgeFilter, "lead_type", "test_lead",
                   "integration")
    search_fields = ("email", "linkedin_id", "crm_id")
    list_select_related = ("integration", "integration__form")
    date_hierarchy = "submitted_at"
    # The last error, the outcomes, the answers and the payload are shown by the page's template
    # (a banner, tables, a folded payload), not as JSON.
    fieldsets = (
        (None, {"fields": ("state", "integration", "email", "crm_id", "attempts", "last_attempt_at", "error_code",
                           "retries", "retry_at", "synced_at")}),
        ("Ignored", {"fields": ("ignored_reason", "ignored_by", "ignored_at")}),
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

    @admin.display(description="state", ordering="state")
    def status(self, obj):
        return format_html('<span class="leadsync-badge leadsync-badge-{}" title="{}">{}</span>',
                           STATE_BADGES.get(obj.state, "muted"), obj.ignored_reason if obj.state == Lead.State.IGNORED
                           else "", obj.get_state_display())

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.state != Lead.State.IGNORED:
            fieldsets = [f for f in fieldsets if f[0] != "Ignored"]
        return fieldsets

    actions = ["retry", "retry_same_error", "ignore", "unignore", "export_csv"]

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

    @admin.action(description="Retry all failed with the same error", permissions=["change"])
    def retry_same_error(self, request, queryset):
        """Every failed lead (on every page, of every live integration) whose error code is one of
        the selected failed leads': once the cause is fixed, the whole lot goes again. The CLI's
        twin is `leadsync retry-failed --error CODE`."""
        codes = sorted(set(queryset.filter(state=Lead.State.FAILED).exclude(error_code="")
                           .values_list("error_code", flat=True)))
        if not codes:
            self.message_user(request, "None of the selected leads has failed with an error code.", messages.WARNING)
            return
        rows = list(Lead.objects.filter(state=Lead.State.FAILED, error_code__in=codes)
                    .exclude(integration__state=Integration.State.TORN_DOWN).order_by()
                    .values_list("pk", "integration_id"))
        ids, per_integration = [pk for pk, _ in rows], Counter(integration_id for _, integration_id in rows)
        count = len(ids)
        recorded = events.record(ids, LeadEvent.Kind.RETRIED, request.user.get_username(), LeadEvent.Via.ADMIN,
                                 detail={"error_codes": codes})
        if not queue_after_commit(self, request, [lambda i=i: tasks.retry_failed.delay(i, error_codes=codes)
                                                  for i in sorted(per_integration)],
                                  f"Queued a retry of {count} failed lead(s) with error {', '.join(codes)} in "
                                  f"{len(per_integration)} integration(s); follow it under Sync runs."):
            events.events_forget(recorded)

    @admin.action(description="Ignore selected leads…", permissions=["change"])
    def ignore(self, request, queryset):
        """An intermediate page asks why (required); the failed and pending leads among the
        selected are then set aside (leads.review.leads_ignore), the others reported and left
        alone. The CLI's twin is `leadsync ignore LINKEDIN_ID ... --reason TEXT`."""
        form = IgnoreForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            result = leads_ignore(leads=queryset, reason=form.cleaned_data["reason"], by=request.user.get_username())
            self._report(request, result, done="Ignored {n} lead(s): they are never pushed or retried until "
                                               "un-ignored.")
            return None
        leads = list(queryset.select_related(None).only("pk", "linkedin_id", "email", "state").order_by("pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Ignore leads", "subtitle": None, "opts": self.opts, "form": form, "leads": leads[:50],
            "more": max(0, len(leads) - 50),
            "ignorable": sum(1 for lead in leads if lead.state in (Lead.State.FAILED, Lead.State.PENDING)),
            "pks": [lead.pk for lead in leads],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "media": self.media,
        }
        return TemplateResponse(request, "admin/leads/lead/ignore.html", context)

    @admin.action(description="Un-ignore selected leads (back to failed, to retry)", permissions=["change"])
    def unignore(self, request, queryset):
        result = leads_unignore(leads=queryset, by=request.user.get_username())
        self._report(request, result, done="Un-ignored {n} lead(s): they are failed again; retry them when ready.",
                     unignore=True)

    def _report(self, request, result, *, done, unignore=False):
        """A review action's outcome: how many changed, and what was left alone and why."""
        if result.done:
            self.message_user(request, done.format(n=len(result.done)), messages.SUCCESS)
        if result.left:
            states = ", ".join(f"{n} {state}" for state, n in sorted(Counter(result.left.values()).items()))
            why = "only ignored leads can be un-ignored" if unignore else "only failed or pending leads can be ignored"
            self.message_user(request, f"Left {len(result.left)} lead(s) alone ({states}): {why}.", messages.WARNING)
        if result.busy:
            self.message_user(request, f"Left {len(result.busy)} pending lead(s) alone: a sync of their integration "
                                       f"is pushing them; try again once it ends.", messages.WARNING)
        if not (result.done or result.left or result.busy):
            self.message_user(request, "No lead was selected.", messages.WARNING)

