"""The field mapping list. The Integration admin (with its sync, retry, teardown and recreate
actions) is in leads/admin.py: those actions use the lead pipeline, a layer above this app."""

from django.contrib import admin

from mappings.models import FieldMapping


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = ("__str__", "integration", "source_kind", "source_key", "crm_field", "transform", "enabled")
    list_filter = ("source_kind", "enabled", "integration")
    search_fields = ("source_label", "source_key", "crm_field")
    list_select_related = ("integration", "integration__form")
