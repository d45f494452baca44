from django.contrib import admin

from mappings.models import FieldMapping, Integration


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    fields = ("position", "source_kind", "source_key", "source_label", "crm_field", "transform", "enabled")
    extra = 0


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = (
        "__str__", "form", "crm_connection", "state", "sync_every_minutes", "watermark", "last_sync_at",
    )
    list_filter = ("state", "crm_connection")
    search_fields = ("name", "form__name", "form__linkedin_id")
    list_select_related = ("form", "crm_connection")
    readonly_fields = ("periodic_task", "watermark", "webhook_subscriptions", "last_sync_at", "torn_down_at")
    inlines = [FieldMappingInline]


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = ("__str__", "integration", "source_kind", "source_key", "crm_field", "transform", "enabled")
    list_filter = ("source_kind", "enabled", "integration")
    search_fields = ("source_label", "source_key", "crm_field")
    list_select_related = ("integration", "integration__form")
