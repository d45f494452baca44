"""The privacy pages: one person's data exported as JSON or erased (the admin's twins of `leadsync
person export` and `person erase`), each behind its own permission, and the read-only audit of
every such request (PersonRequest), which never holds the person."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from connectors.exceptions import LeadSyncError
from leads.cli.base import json_default
from leads.models import PersonRequest
from leads.people import email_digest, person_erase, person_export, person_summary

EXPORT_PERMISSION = "leads.export_person"
ERASE_PERMISSION = "leads.erase_person"


class PersonForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address", max_length=254,
        help_text="The address the person gave on the LinkedIn form (any case). It is not stored: the audit keeps a "
                  "keyed hash of it.")


class PersonEraseForm(PersonForm):
    crm = forms.BooleanField(
        required=False, label="Also delete their leads in the CRM",
        help_text="Ticked, each of their CRM leads is deleted first (one another live lead shares is kept). If the CRM "
                  "refuses one, nothing is erased in LeadSync and you can try again.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget = forms.HiddenInput()


def can_export_person(request) -> bool:
    return request.user.has_perm(EXPORT_PERMISSION)


def can_erase_person(request) -> bool:
    return request.user.has_perm(ERASE_PERMISSION)


@admin.register(PersonRequest)
class PersonRequestAdmin(admin.ModelAdmin):
    """The audit of person data requests: read-only for everyone (a record of what was done is not
    edited), searched by e-mail address through its digest. Its "Export or erase a person" page
    (`admin:leads_personrequest_person`) is where the requests are made."""

    change_list_template = "admin/leads/personrequest/change_list.html"
    list_display = ("requested_at", "kind", "via", "requested_by", "leads", "notifications", "crm_requested",
                    "crm_deleted", "crm_kept", "crm_failed", "outcome")
    list_filter = ("kind", "via", "outcome", "crm_requested", "requested_at")
    date_hierarchy = "requested_at"
    search_fields = ("email_digest",)
    search_help_text = "Type an e-mail address to find the requests about that person (matched by its digest)."
    fields = ("kind", "via", "requested_by", "requested_at", "email_digest", "leads", "notifications",
              "crm_requested", "crm_deleted", "crm_kept", "crm_failed", "outcome", "error")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        """An address is looked up by its digest (the only form in which it is stored); a digest
        pasted in finds itself."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(email_digest__in={email_digest(term), term.lower()}), False

    def changelist_view(self, request, extra_context=None):
        person_url = reverse("admin:leads_personrequest_person") \
            if can_export_person(request) or can_erase_person(request) else ""
        return super().changelist_view(request, {**(extra_context or {}), "person_url": person_url})

    # --- the page where an admin asks -------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("person/", self.admin_site.admin_view(self.person_view), name="%s_%s_person" % info),
        ] + super().get_urls()

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": "Export or erase a person",
                "can_export": can_export_person(request), "can_erase": can_erase_person(request),
                "audit_url": reverse("admin:leads_personrequest_changelist")
                if self.has_view_permission(request) else "", **extra}

    @staticmethod
    def _by(request) -> dict:
        return {"via": PersonRequest.Via.ADMIN, "requested_by": request.user.get_username()}

    @method_decorator(sensitive_post_parameters("email"))
    def person_view(self, request):
        """Enter an address, then download everything held about it (the document of `leadsync
        person export --json`, without the CLI's "ok") or go on to erase it: a confirmation with
        counts, never the data, and whether to delete in the CRM too. Everything goes by POST, so
        the address never lands in a URL or an access log."""
        if not (can_export_person(request) or can_erase_person(request)):
            raise PermissionDenied
        step = request.POST.get("step", "") if request.method == "POST" else ""
        if step == "export":
            return self._export(request)
        if step in ("erase", "confirm"):
            return self._erase(request, confirmed=step == "confirm")
        form = PersonForm()
        return TemplateResponse(request, "admin/leads/personrequest/person.html", self._context(request, form=form))

    def _export(self, request):
        if not can_export_person(request):
            raise PermissionDenied
        form = PersonForm(request.POST)
        if not form.is_valid():
            return TemplateResponse(request, "admin/leads/personrequest/person.html", self._context(request, form=form))
        document = person_export(email=form.cleaned_data["email"], **self._by(request))
        response = HttpResponse(json.dumps(document, default=json_default, ensure_ascii=False, indent=2) + "\n",
                                content_type="application/json; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="person-export-{stamp}.json"'
        return response

    def _erase(self, request, *, confirmed: bool):
        if not can_erase_person(request):
            raise PermissionDenied
        form = PersonEraseForm(request.POST) if confirmed else PersonForm(request.POST)
        if not form.is_valid():
            return TemplateResponse(request, "admin/leads/personrequest/person.html", self._context(request, form=form))
        email = form.cleaned_data["email"]
        if confirmed:
            try:
                result = person_erase(email=email, crm=form.cleaned_data["crm"], **self._by(request))
            except LeadSyncError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                text = f"Erased {result['leads_erased']} lead(s)"
                if form.cleaned_data["crm"]:
                    text += f"; {result['crm_records_deleted']} CRM lead(s) deleted"
                self.message_user(request, text + ". The request is recorded below (without the address).")
                for note in result["notes"]:
                    self.message_user(request, note, messages.WARNING)
                return redirect("admin:leads_personrequest_changelist" if self.has_view_permission(request)
                                else "admin:leads_personrequest_person")
        else:
            form = PersonEraseForm(initial={"email": email})
        return TemplateResponse(request, "admin/leads/personrequest/erase.html",
                                self._context(request, form=form, email=email, summary=person_summary(email=email),
                                              title="Erase a person"))
