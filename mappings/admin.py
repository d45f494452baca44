"""The field mapping list. The Integration admin (with its sync, retry, teardown and recreate
actions) is in leads/admin.py: those actions use the lead pipeline, a layer above this app.

Filtered by integration, this list is that integration's mapping editor for the Lead reviewers:
they may change mappings but not integrations, so the fix of a failed lead's mapping happens here
(the rows in place, or one row on its change page)."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from connectors.crm.schema import EMAIL_FIELD
from mappings.audit import admin_user, form_edits, mapping_edited
from mappings.forms import FieldMappingChangeForm, FieldMappingChangelistFormSet, FieldMappingForm
from mappings.models import FieldMapping, Integration, IntegrationEvent


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    form = FieldMappingChangeForm
    list_display = ("source", "source_kind", "integration", "crm_field", "transform", "transform_option", "enabled")
    list_display_links = ("source",)
    list_editable = ("crm_field", "transform", "transform_option", "enabled")
    list_filter = ("integration", "source_kind", "enabled")
    search_fields = ("source_label", "source_key", "crm_field")
    list_select_related = ("integration",)
    fields = ("integration", "source_kind", "source_key", "source_label", "crm_field", "transform", "transform_option",
              "enabled")
    readonly_fields = ("integration", "source_kind", "source_key", "source_label")

    def get_queryset(self, request):
        # The forms find their integration's CRM catalogue through it, without a query per row.
        return super().get_queryset(request).select_related("integration")

    def has_add_permission(self, request):
        # Rows come from the form's definition (enable, recreate): one per question, hidden field,
        # consent and metadata key. A row typed here would map a source the form does not have.
        return False

    def get_list_display(self, request):
        # Filtered to one integration (the mapping editor), its name on every row is noise.
        if "integration__id__exact" in request.GET:
            return tuple(name for name in self.list_display if name != "integration")
        return self.list_display

    def changelist_view(self, request, extra_context=None):
        context = {"email_field": EMAIL_FIELD, **(extra_context or {})}
        integration_id = request.GET.get("integration__id__exact", "")
        integration = Integration.objects.filter(pk=integration_id).first() if integration_id.isdigit() else None
        if integration is not None:
            context["mapping_integration"] = integration
            context["mapping_integration_url"] = reverse("admin:mappings_integration_change", args=[integration.pk])
        # The rows saved in place are collected by save_model: one audit event per integration edited.
        request._mapping_edits = edits = {}
        response = super().changelist_view(request, context)
        for rows in edits.values():
            mapping_edited(integration=rows[0][0], rows=[change for _, change in rows], by=admin_user(request.user))
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        edit = form_edits(form) if change else None
        if edit is None:
            return
        collected = getattr(request, "_mapping_edits", None)
        if collected is None:  # a row's own change page: its one event
            mapping_edited(integration=obj.integration, rows=[edit], by=admin_user(request.user))
        else:
            collected.setdefault(obj.integration_id, []).append((obj.integration, edit))

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=FieldMappingForm, **kwargs)

    def get_changelist_formset(self, request, **kwargs):
        return super().get_changelist_formset(request, formset=FieldMappingChangelistFormSet, **kwargs)

    @admin.display(description="source", ordering="source_label")
    def source(self, obj):
        return obj.source_label or obj.source_key


@admin.register(IntegrationEvent)
class IntegrationEventAdmin(admin.ModelAdmin):
    """The integrations' audit trail: who enabled, edited, paused, tore down or synced what, from the
    admin or the command line. Read-only for everyone, superusers included (a record of what was done
    is not edited); the Lead sync admins may view it."""

    list_display = ("at", "integration", "kind", "actor", "via", "summary")
    list_display_links = ("at",)
    list_filter = ("kind", "via", "integration")
    list_select_related = ("integration",)
    search_fields = ("summary", "actor")
    date_hierarchy = "at"
    fields = ("at", "integration", "kind", "actor", "via", "summary", "details")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="what changed")
    def details(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.detail, indent=2, ensure_ascii=False, sort_keys=True))
