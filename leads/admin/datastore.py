"""The local datastore of each form (LGF-104): every stored lead of one form as a table with a
column per question, hidden field and consent, filtered, searched, sorted and paged like the lead
list; and CSV exports of any filtered lead list, streamed so that a hundred thousand leads never sit
in memory, for the staff allowed to carry personal data off the server (`leads.export_lead`).

The pages reuse the lead list's own ChangeList, so a filter, a search or a sort means the same on
the list, on a form's table and in their exports, and a link carries it from one to the other."""

import csv
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.admin.views.main import ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator, capfirst, slugify, smart_split, unescape_string_literal

from connectors.models import LeadForm
from leads.models import Lead
from leads.selectors import lead_form_fields, lead_forms_with_lead_counts
from mappings.models import Integration

logger = logging.getLogger(__name__)

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection); such a
# cell gets a leading single quote, which they show as text and do not run.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Leads fetched per database round trip while an export streams.
EXPORT_CHUNK_SIZE = 2000
# CSV rows sent to the client per write.
EXPORT_BATCH = 500
# What an export never needs from a lead row: the payload as LinkedIn sent it and the outcomes.
NOT_EXPORTED = ("raw", "field_outcomes")

SEARCH_HELP = "Searches the e-mail, the LinkedIn response ID, the CRM lead ID and the answers."


def answer_text(value) -> str:
    """An answer as a person reads it: the options of a multiple-choice answer joined with ", ",
    booleans as yes or no, nothing as an empty string."""
    if isinstance(value, (list, tuple)):
        return ", ".join(answer_text(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def answer_label(question_id, answer: dict) -> str:
    """What a stored answer calls its question: the question's text, else its name, else its id."""
    return answer.get("text") or answer.get("name") or f"Question {question_id}"


@dataclass(frozen=True)
class Column:
    """One column of a table or an export: `kind` is "lead" (a Lead field, or "form" or
    "answers"), "question", "hidden" or "consent"; `key` is the field name, question id, hidden
    field name or consent id; `retired` marks a field only older versions of the form have."""

    kind: str
    key: str
    label: str
    retired: bool = False

    @property
    def id(self) -> str:
        """Stable across renders: the table's `data-column` attribute (for people and browser tests)."""
        return f"{self.kind}:{self.key}"

    def value(self, lead: Lead):
        """This column's value for `lead`: text, or a datetime the page and the CSV each format."""
        answers = lead.answers or {}
        if self.kind == "question":
            answer = (answers.get("answers") or {}).get(self.key)
            return answer_text(answer.get("value")) if isinstance(answer, dict) else ""
        if self.kind == "hidden":
            return answer_text((answers.get("hidden_fields") or {}).get(self.key))
        if self.kind == "consent":
            consent = (answers.get("consents") or {}).get(self.key)
            return answer_text(consent.get("accepted") is True) if isinstance(consent, dict) else ""
        if self.key == "state":
            return lead.get_state_display()
        if self.key == "integration":
            return str(lead.integration)
        if self.key == "form":
            return lead.integration.form.linkedin_id
        if self.key == "answers":
            return answers_summary(lead)
        value = getattr(lead, self.key)
        return value if isinstance(value, datetime) else answer_text(value)


def lead_column(name: str) -> Column:
    labels = {"form": "LinkedIn form ID", "answers": "Answers", "email": "E-mail"}
    label = labels.get(name) or capfirst(Lead._meta.get_field(name).verbose_name)
    return Column("lead", name, label)


# The lead list's export: what the list shows, and every answer in one column (its leads may come
# from many forms, so there cannot be one column per question).
LIST_EXPORT_COLUMNS = [lead_column(name) for name in (
    "linkedin_id", "integration", "form", "form_version", "lead_type", "submitted_at", "test_lead", "email", "state",
    "crm_id", "attempts", "last_error", "last_attempt_at", "synced_at", "answers",
)]
# A form's table and its export start with these, then one column per field of the form. They
# are also the table's list_display, so sorting by them is the admin's own.
FORM_LEAD_FIELDS = ("linkedin_id", "submitted_at", "state", "email", "test_lead", "form_version", "crm_id")


def answers_summary(lead: Lead) -> str:
    """Every answer, hidden field and consent of a lead in one cell: `Label: value; …`."""
    answers = lead.answers or {}
    parts = [f"{answer_label(question_id, answer)}: {answer_text(answer.get('value'))}"
             for question_id, answer in (answers.get("answers") or {}).items() if isinstance(answer, dict)]
    parts += [f"{name}: {answer_text(value)}" for name, value in (answers.get("hidden_fields") or {}).items()]
    parts += [f"{consent.get('text') or f'Consent {consent_id}'}: {answer_text(consent.get('accepted') is True)}"
              for consent_id, consent in (answers.get("consents") or {}).items() if isinstance(consent, dict)]
    return "; ".join(parts)


def form_columns(fields: dict) -> list[Column]:
    """The columns of a form's table and export from `lead_form_fields()`: the lead's own fields,
    then each question, hidden field and consent. Two fields with the same label get their key
    appended, so every CSV header names one field."""
    columns = []
    for question in fields["questions"]:
        label = question["label"] or question["name"] or f"Question {question['id']}"
        columns.append(Column("question", question["id"], label, question["retired"]))
    for hidden in fields["hidden_fields"]:
        columns.append(Column("hidden", hidden["name"], f"{hidden['name']} (hidden field)", hidden["retired"]))
    for consent in fields["consents"]:
        text = consent["label"] or Truncator(consent["text"] or consent["id"]).chars(60)
        columns.append(Column("consent", consent["id"], f"Consent: {text}", consent["retired"]))
    leads = [lead_column(name) for name in FORM_LEAD_FIELDS]
    taken = {column.label for column in leads}
    unique = []
    for column in columns:
        label = column.label + (" (older version)" if column.retired else "")
        if label in taken:
            label = f"{label} [{column.id}]"
        taken.add(label)
        unique.append(Column(column.kind, column.key, label, column.retired))
    return leads + unique


def csv_cell(value) -> str:
    """A value as CSV text: datetimes in ISO 8601 in the site's time zone, and anything a
    spreadsheet would run as a formula neutralised with a leading single quote."""
    if isinstance(value, datetime):
        text = timezone.localtime(value).isoformat()
    else:
        text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file whose write() hands back what it is given, so csv.writer makes lines to stream."""

    def write(self, value):
        return value


def csv_response(request, *, columns: list[Column], leads, filename: str) -> StreamingHttpResponse:
    """`leads` (a queryset) as a streamed CSV download: a header row of the columns' labels,
    then one row per lead, read EXPORT_CHUNK_SIZE at a time and never all held in memory. UTF-8
    without a byte order mark. Who exported what is logged: personal data left the server."""
    # The filters, but never what was searched for: a search can be an e-mail address (personal data).
    query = request.GET.copy()
    if query.get(SEARCH_VAR):
        query[SEARCH_VAR] = "[search]"
    logger.info("%s exported leads as CSV (%s): %s?%s", request.user.get_username(), filename, request.path,
                query.urlencode())
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow([csv_cell(column.label) for column in columns])
        batch = []
        for lead in leads.defer(None).defer(*NOT_EXPORTED).iterator(chunk_size=EXPORT_CHUNK_SIZE):
            batch.append(writer.writerow([csv_cell(column.value(lead)) for column in columns]))
            if len(batch) >= EXPORT_BATCH:
                yield "".join(batch)
                batch = []
        if batch:
            yield "".join(batch)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M%S")


def carried_query(request, *, drop=lambda name: False) -> str:
    """The request's query string for a link to another datastore page ("" or "?…"), without the
    page number and the admin's error flag (which only mean something where they were set), nor
    the parameters `drop` names."""
    query = request.GET.copy()
    for name in list(query):
        if name in (PAGE_VAR, ERROR_FLAG) or drop(name):
            query.pop(name)
    return f"?{query.urlencode()}" if query else ""


def search_terms(search_term: str):
    """The words of a search as the admin splits them: quoted phrases stay one term."""
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            yield bit


class LeadDatastoreMixin:
    """The datastore pages of the Lead admin: the forms with stored leads
    (`admin:leads_lead_forms`), one form's table (`admin:leads_lead_form_table`, by LeadForm
    pk), its CSV (`admin:leads_lead_form_export`), the lead list's CSV (`admin:leads_lead_export`,
    with the list's query string) and the list's "Export the selected leads as CSV" action.

    A form's pages are this admin's changelist narrowed to the form's leads (the URL names the
    form), with the form's fields as extra columns: the same filters (bar the integration one, plus
    one on the submission date), search (which also looks in the answers), sorting and paging. The table needs `view_lead`; the
    exports `export_lead` as well."""

    def _url_name(self, verb: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{verb}"

    def _url(self, verb: str, *args) -> str:
        return reverse(f"admin:{self._url_name(verb)}", args=args)

    def datastore_page(self, request) -> str:
        """Which datastore page this is: "form" for a form's table and its export, "export" for
        the lead list's export, empty elsewhere."""
        name = request.resolver_match.url_name if request.resolver_match else ""
        return {self._url_name("form_table"): "form", self._url_name("form_export"): "form",
                self._url_name("export"): "export"}.get(name, "")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("forms/", view(self.forms_view), name=self._url_name("forms")),
            path("forms/<int:form_pk>/", view(self.form_table_view), name=self._url_name("form_table")),
            path("forms/<int:form_pk>/csv/", view(self.form_export_view), name=self._url_name("form_export")),
            path("csv/", view(self.export_view), name=self._url_name("export")),
        ] + super().get_urls()

    def has_export_permission(self, request) -> bool:
        codename = get_permission_codename("export", self.opts)
        return self.has_view_permission(request) and request.user.has_perm(f"{self.opts.app_label}.{codename}")

    # The lead list's ChangeList, bent to a form's pages.

    def datastore_queryset(self, request, queryset):
        """What the datastore pages read: no payloads, and on a form's pages only that form's leads."""
        queryset = queryset.defer(*NOT_EXPORTED)
        form_pk = request.resolver_match.kwargs.get("form_pk")
        if form_pk is not None:
            queryset = queryset.filter(integration__form_id=form_pk)
        return queryset

    def get_list_display(self, request):
        if self.datastore_page(request) == "form":
            return FORM_LEAD_FIELDS
        return super().get_list_display(request)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if self.datastore_page(request) == "form":
            filters = [f for f in filters if f != "integration"]  # the URL names the form
            filters.insert(1, ("submitted_at", admin.DateFieldListFilter))
        return filters

    def get_list_select_related(self, request):
        if self.datastore_page(request) == "form":
            return False  # a form's columns are the lead's own
        return super().get_list_select_related(request)

    def get_actions(self, request):
        if self.datastore_page(request) == "form":
            return {}  # the table has no checkboxes; its export takes every row of the filters
        return super().get_actions(request)

    def get_search_results(self, request, queryset, search_term):
        """On a form's pages a search also looks in the answers (as stored JSON text, so a
        question's text matches too; non-ASCII text is matched in its escaped form as well, which
        is how SQLite stores it)."""
        if self.datastore_page(request) != "form" or not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        for term in search_terms(search_term):
            match = Q(answers__icontains=term)
            escaped = json.dumps(term)[1:-1]
            if escaped != term:
                match |= Q(answers__icontains=escaped)
            for name in self.get_search_fields(request):
                match |= Q(**{f"{name}__icontains": term})
            queryset = queryset.filter(match)
        return queryset, False

    def _changelist(self, request):
        try:
            return self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return None

    def changelist_view(self, request, extra_context=None):
        """The lead list, with links to the datastore that keep its filters: every form's table,
        this integration's form's table when the list is filtered to one, and its CSV."""
        tools = {"forms_url": self._url("forms")}
        if self.has_export_permission(request):
            tools["export_url"] = self._url("export") + carried_query(request)
        integration_id = request.GET.get("integration__id__exact", "")
        form_pk = integration_id.isdigit() and (
            Integration.objects.filter(pk=integration_id).values_list("form_id", flat=True).first())
        if form_pk:
            # The table's columns differ from the list's (so does a sort by position), and the
            # form is in its URL.
            tools["form_table_url"] = self._url("form_table", form_pk) + carried_query(
                request, drop=lambda name: name == ORDER_VAR or name.startswith("integration"))
        return super().changelist_view(request, {**(extra_context or {}), "datastore": tools})

    # The pages.

    def forms_view(self, request):
        """Every form that has or had an integration, with its stored leads counted, each linked
        to its table and (for those who may export) its CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_export = self.has_export_permission(request)
        rows = [{"form": form,
                 "table_url": self._url("form_table", form.pk),
                 "export_url": self._url("form_export", form.pk) if can_export else ""}
                for form in lead_forms_with_lead_counts()]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Leads by form",
                   "rows": rows, "can_export": can_export}
        return TemplateResponse(request, "admin/leads/lead/form_tables.html", context)

    def form_table_view(self, request, form_pk):
        """One form's leads, a column per field; a handful of queries whatever the number of leads
        (the page's leads in one)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = get_object_or_404(LeadForm, pk=form_pk)
        cl = self._changelist(request)
        if cl is None:
            self.message_user(request, "Those filters do not apply to a form's leads; here are all of them.",
                              messages.WARNING)
            return redirect(request.path)
        cl.search_help_text = SEARCH_HELP
        columns = form_columns(lead_form_fields(form=form))
        headers = list(result_headers(cl))
        rows = [{"url": self._url("change", lead.pk),
                 "cells": [(column.id, column.value(lead)) for column in columns]}
                for lead in cl.result_list]
        export_url = self._url("form_export", form.pk) + carried_query(request) \
            if self.has_export_permission(request) else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "cl": cl, "media": self.media, "title": f"Leads of {form}", "subtitle": None,
            "form": form, "columns": columns, "rows": rows,
            "lead_headers": list(zip(headers, columns[:len(headers)])),
            "field_columns": columns[len(headers):],
            "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sort_priority"] > 0),
            "forms_url": self._url("forms"),
            "form_url": reverse("admin:connectors_leadform_change", args=[form.pk])
                        if request.user.has_perm("connectors.view_leadform") else "",
            "export_url": export_url,
        }
        return TemplateResponse(request, "admin/leads/lead/form_table.html", context)

    def form_export_view(self, request, form_pk):
        """The form's table as CSV, every row of its filters, search and sort (not just the page)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        form = get_object_or_404(LeadForm, pk=form_pk)
        cl = self._changelist(request)
        if cl is None:
            return HttpResponseBadRequest("Those filters do not apply to a form's leads.")
        return csv_response(request, columns=form_columns(lead_form_fields(form=form)),
                            leads=cl.get_queryset(request),
                            filename=f"leads-form-{slugify(form.linkedin_id) or form.pk}-{_stamp()}.csv")

    def export_view(self, request):
        """The lead list as CSV: every row of the list's filters, search and sort."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        cl = self._changelist(request)
        if cl is None:
            return HttpResponseBadRequest("Those filters do not apply to the lead list.")
        return csv_response(request, columns=LIST_EXPORT_COLUMNS, leads=cl.get_queryset(request),
                            filename=f"leads-{_stamp()}.csv")

    @admin.action(description="Export the selected leads as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        return csv_response(request, columns=LIST_EXPORT_COLUMNS, leads=queryset, filename=f"leads-{_stamp()}.csv")
