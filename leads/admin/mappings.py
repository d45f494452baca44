"""The mapping as the admin shows it: the editor inline of an integration, and what the mapping
makes of a stored lead (the preview the integration and lead pages show, of the mapping as saved
or as edited on the page)."""

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from connectors.linkedin.responses import sample_response
from connectors.linkedin.times import epoch_ms
from leads.models import Lead
from mappings import engine
from mappings.forms import FieldMappingForm, FieldMappingInlineFormSet, integration_catalogues, source_name
from mappings.models import FieldMapping, Integration
from mappings.services import form_definition


PREVIEW = "_preview"  # the submit button that previews the page's edits instead of saving them


def is_preview(request) -> bool:
    return request.method == "POST" and PREVIEW in request.POST


class PreviewOnly:
    """A formset posted to be previewed: validated exactly as a save would validate it, then
    reported invalid so the admin saves nothing and renders the page again with the edits as
    they were typed (and their errors, if any). `edits_valid` says whether the edits would save."""

    edits_valid = False

    def is_valid(self):
        self.edits_valid = super().is_valid()
        return False


class FieldMappingInline(admin.TabularInline):
    """The integration's mapping editor: one row per form source. Rows are made by enable and
    recreate from the form's definition, so none is added or deleted here; the CRM field and the
    transform are picked from lists, a transform's option typed beside it, and the rows are
    checked together on save (and on "Preview these edits")."""

    model = FieldMapping
    form = FieldMappingForm
    formset = FieldMappingInlineFormSet
    fields = ("source_kind", "source_label", "source_key", "crm_field", "transform", "transform_option", "enabled")
    readonly_fields = ("source_kind", "source_label", "source_key")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if is_preview(request):
            return type(f"Preview{formset.__name__}", (PreviewOnly, formset), {})
        return formset


_SAMPLE_EMAIL = "ada.lovelace@example.com"


def newest_lead(integration: Integration) -> Lead:
    """The lead the integration page previews: its newest stored one that still has its data, or,
    before any is stored, a sample lead (never saved) that answers every field of the form."""
    lead = (integration.leads.exclude(state=Lead.State.DELETED).defer("raw", "field_outcomes")
            .order_by("-submitted_at", "-pk").first())
    if lead is not None:
        return lead
    now = timezone.now()
    answers = sample_response(form_definition(integration.form) or {}, submitted_at=epoch_ms(now),
                              lead_type=(integration.lead_types or integration.form.receives() or [None])[0])
    return Lead(integration=integration, linkedin_id="sample", submitted_at=now, answers=answers,
                email=_SAMPLE_EMAIL)


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


def crm_field_names(system_name: str, info: dict | None) -> dict:
    """A CRM field as the tables show it: its label, and the system name the API uses."""
    return {"crm_label": info["label"] if info else "", "crm_name": system_name}


def mapping_preview(*, integration: Integration, lead: Lead, mappings=None, catalogue=None) -> dict:
    """What the CRM would get from `lead` with the integration's mapping as it is now (or with
    `mappings`, rows as edited and not saved): the same call the push makes
    (leads.pipeline.push.Pusher), without sending anything. Only lead data and CRM field names are
    in it, never a credential."""
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
            **crm_field_names(outcome["crm_field"], info),
            "value": value,
            "status": outcome["status"],
            "status_help": STATUS_HELP.get(outcome["status"], ""),
            "message": outcome["message"],
        })
    return {"lead": lead, "rows": rows, "not_synced": not_synced, "lead_error": mapped.lead_error,
            "sample": lead.pk is None,
            "lead_url": reverse("admin:leads_lead_change", args=[lead.pk]) if lead.pk else ""}
