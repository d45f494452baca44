"""The field mapping list. The Integration admin (with its sync, retry, teardown and recreate
actions) is in leads/admin.py: those actions use the lead pipeline, a layer above this app.

Filtered by integration, this list is that integration's mapping editor for the Lead reviewers:
they may change mappings but not integrations, so the fix of a failed lead's mapping happens here
(the rows in place, or one row on its change page)."""

from django.contrib import admin
from django.urls import reverse

from connectors.crm.schema import EMAIL_FIELD
from mappings.forms import FieldMappingChangeForm, FieldMappingChangelistFormSet, FieldMappingForm
from mappings.models import FieldMapping, Integration


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
        return super().changelist_view(request, context)

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=FieldMappingForm, **kwargs)

    def get_changelist_formset(self, request, **kwargs):
        return super().get_changelist_formset(request, formset=FieldMappingChangelistFormSet, **kwargs)

    @admin.display(description="source", ordering="source_label")
    def source(self, obj):
        return obj.source_label or obj.source_key
