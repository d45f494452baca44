from django.contrib import admin

from leads.models import Lead, SyncRun


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "__str__", "integration", "state", "lead_type", "submitted_at", "test_lead", "crm_id", "attempts", "last_error",
    )
    list_filter = ("state", "lead_type", "test_lead", "integration")
    search_fields = ("email", "linkedin_id", "crm_id")
    list_select_related = ("integration", "integration__form")
    date_hierarchy = "submitted_at"
    readonly_fields = (
        "integration", "linkedin_id", "form_version", "lead_type", "submitted_at", "test_lead", "submitter_urn",
        "associated_entity_urn", "campaign_urn", "email", "raw", "answers", "field_outcomes", "crm_id", "state",
        "attempts", "last_error", "last_attempt_at", "synced_at", "created_at", "updated_at",
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # The list never shows the payloads; don't load them for 100 rows.
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            qs = qs.defer("raw", "answers", "field_outcomes")
        return qs

    def has_add_permission(self, request):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__", "integration", "trigger", "state", "window_start", "window_end", "progress", "pulled", "new",
        "created", "updated", "failed", "started_at", "finished_at",
    )
    list_filter = ("state", "trigger", "integration")
    list_select_related = ("integration", "integration__form")
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Progress")
    def progress(self, obj):
        if obj.progress_total:
            return f"{obj.progress_done}/{obj.progress_total}"
        return str(obj.progress_done)
