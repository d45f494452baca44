"""The lead page's "Edit the answers": a form of the lead's questions and hidden fields, saved
through leads.answers.lead_answers_edit (the same service as `leadsync lead edit`), then, when asked
and the lead has failed, retried."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from leads.admin.datastore import answer_label
from leads.answers import (
    MAX_TEXT, QUESTION, AnswerEditRefused, editable_answers, lead_answers_edit, lead_answers_editable,
)
from leads.models import Lead, LeadEvent

EDIT_HELP = ("Correct what the member typed (a mistyped e-mail, a choice the CRM does not know) so the next push "
             "sends it. Only the answers LeadSync read change; what LinkedIn sent stays as it was, below on the lead's "
             "page, and the lead's history keeps each value before and after. Failed, pending and ignored leads can "
             "be edited; a synced lead is already in the CRM, so its answers are read-only here. Consents cannot be "
             "edited: only the member gives them.")


class LeadAnswersForm(forms.Form):
    """One box per question and hidden field the lead has (fields a0, a1, … in the lead's order):
    a text for a text answer, one choice per line for a choice answer."""

    def __init__(self, *args, lead: Lead, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = editable_answers(lead)
        for index, row in enumerate(self.rows):
            if row["kind"] == QUESTION:
                label = answer_label(row["key"], row["answer"])
                predefined = row["answer"].get("predefined_field")
                help_text = f"Question {row['key']}" + (f" ({predefined})" if predefined else "")
            else:
                label, help_text = f"Hidden field {row['key']}", "A hidden field of the form"
            if row["type"] == "multiple_choice":
                value = row["value"] if isinstance(row["value"], list) else []
                field = forms.CharField(label=label, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                        initial="\n".join(str(v) for v in value),
                                        help_text=help_text + ": one choice per line, as the CRM should get it.")
            else:
                value = row["value"]
                field = forms.CharField(label=label, required=False, max_length=MAX_TEXT,
                                        initial="" if value is None else str(value), help_text=help_text + ".")
            self.fields[f"a{index}"] = field

    def values(self) -> dict:
        """{(kind, key): value} in the shapes lead_answers_edit takes."""
        values = {}
        for index, row in enumerate(self.rows):
            value = self.cleaned_data.get(f"a{index}", "")
            if row["type"] == "multiple_choice":
                value = [line for line in value.splitlines() if line.strip()]
            values[(row["kind"], row["key"])] = value
        return values

    def add_refusal(self, refused: AnswerEditRefused):
        by_key = {f"{row['kind']}:{row['key']}": f"a{index}" for index, row in enumerate(self.rows)}
        for key, message in refused.errors.items():
            self.add_error(by_key.get(key), message)
        if not refused.errors:
            self.add_error(None, str(refused))


class LeadAnswersAdminMixin:
    """The edit page of LeadAdmin (leads_lead_answers): change permission, an editable state."""

    def answers_view(self, request, pk):
        lead = get_object_or_404(Lead.objects.select_related("integration__form"), pk=pk)
        if not self.has_change_permission(request, lead):
            raise PermissionDenied
        page = reverse("admin:leads_lead_change", args=[lead.pk])
        if not lead_answers_editable(lead):
            self.message_user(request, f"A {lead.get_state_display().lower()} lead's answers are read-only: "
                                       "only failed, pending and ignored leads can be edited.", messages.WARNING)
            return redirect(page)
        form = LeadAnswersForm(request.POST if request.method == "POST" else None, lead=lead)
        if request.method == "POST" and form.is_valid():
            try:
                changes = lead_answers_edit(lead=lead, values=form.values(), actor=request.user.get_username(),
                                            via=LeadEvent.Via.ADMIN)
            except AnswerEditRefused as exc:
                form.add_refusal(exc)
            else:
                keys = ", ".join(f"{c['kind']} {c['key']}" for c in changes)
                self.message_user(request, f"Changed {len(changes)} answer(s): {keys}." if changes
                                  else "Nothing changed.")
                if "_retry" in request.POST:
                    if lead.state == Lead.State.FAILED:
                        self.retry(request, Lead.objects.filter(pk=lead.pk))
                    else:
                        self.message_user(request, "The lead has not failed: the next sync pushes it.")
                return redirect(page)
        return TemplateResponse(request, "admin/leads/lead/edit_answers.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": lead, "form": form,
            "title": f"Edit the answers of {lead}", "help": EDIT_HELP, "can_retry": lead.state == Lead.State.FAILED,
        })
