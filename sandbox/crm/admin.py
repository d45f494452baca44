"""The sandbox CRM in the admin: what the product wrote, what it sent, and the switches that make it fail."""

from django import forms
from django.contrib import admin
from django.db.models import Count

from . import services
from .models import CrmAccount, CrmCall, CrmFault, CrmField, CrmLead


def mask(secret):
    if not secret:
        return ""
    return f"{secret[:3]}…" if len(secret) > 8 else "…"


class CrmAccountForm(forms.ModelForm):
    secret_key = forms.CharField(
        widget=forms.PasswordInput(render_value=True),
        help_text=CrmAccount._meta.get_field("secret_key").help_text,
    )

    class Meta:
        model = CrmAccount
        fields = ["account_id", "secret_key", "name", "per_second_limit", "daily_limit", "lead_updates_url"]


class CrmFaultInline(admin.StackedInline):
    model = CrmFault
    can_delete = False
    extra = 0
    max_num = 1


@admin.register(CrmAccount)
class CrmAccountAdmin(admin.ModelAdmin):
    form = CrmAccountForm
    list_display = [
        "account_id",
        "name",
        "masked_secret",
        "per_second_limit",
        "daily_limit",
        "lead_count",
        "created_at",
    ]
    search_fields = ["account_id", "name"]
    readonly_fields = ["next_lead_id", "created_at"]
    inlines = [CrmFaultInline]

    @admin.display(description="secret key")
    def masked_secret(self, obj):
        return mask(obj.secret_key)

    @admin.display(description="leads", ordering="lead_total")
    def lead_count(self, obj):
        return obj.lead_total

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(lead_total=Count("leads"))

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.startswith("secret_key"):
            return False
        return super().lookup_allowed(lookup, value, request)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # An account made here must answer getFields like one made by `sandbox_crm_account`.
        services.account_ensure_standard_fields(account=obj)
        services.fault_for(account=obj)


@admin.register(CrmField)
class CrmFieldAdmin(admin.ModelAdmin):
    list_display = [
        "system_name",
        "label",
        "account",
        "data_type",
        "data_length",
        "is_custom",
        "is_required",
        "is_active",
    ]
    list_filter = ["account", "is_custom", "data_type", "is_active"]
    search_fields = ["system_name", "label"]
    list_select_related = ["account"]

    def get_readonly_fields(self, request, obj=None):
        # A systemName is the key leads are written with: it never changes, not even with the label.
        return ["account", "system_name", "is_custom", "created_at"] if obj else ["created_at"]

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.is_custom


def _lead_value(name, description):
    @admin.display(description=description)
    def value(self, obj):
        return obj.data.get(name) or ""

    return value


@admin.register(CrmLead)
class CrmLeadAdmin(admin.ModelAdmin):
    list_display = [
        "lead_id",
        "email",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "account",
        "is_active",
        "created_at",
        "updated_at",
    ]
    list_display_links = ["lead_id", "email"]
    list_filter = ["account", "is_active", "created_at", "updated_at"]
    search_fields = ["email_lower", "=lead_id"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    readonly_fields = ["account", "lead_id", "email_lower", "created_at", "updated_at"]

    email = _lead_value("emailAddress", "email")
    first_name = _lead_value("firstName", "first name")
    last_name = _lead_value("lastName", "last name")
    company = _lead_value("companyName", "company")
    job_title = _lead_value("title", "title")

    def has_add_permission(self, request):
        return False  # leads arrive through the API, with its checks

    def save_model(self, request, obj, form, change):
        obj.email_lower = (obj.data.get("emailAddress") or "").lower()
        obj.data["active"] = "1" if obj.is_active else "0"
        super().save_model(request, obj, form, change)


@admin.register(CrmCall)
class CrmCallAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "account",
        "method",
        "object_count",
        "failed_count",
        "http_status",
        "error_code",
        "fault",
        "summary",
    ]
    list_filter = ["method", "http_status", "error_code", "fault", "account"]
    search_fields = ["method", "request_id", "summary", "account_ref"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name and match.url_name.endswith("changelist"):
            queryset = queryset.defer("request", "response")  # the bodies can hold 500 leads each
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log: read it, or delete it to reset the daily counter


@admin.register(CrmFault)
class CrmFaultAdmin(admin.ModelAdmin):
    list_display = [
        "account",
        "reject_email_pattern",
        "reject_code",
        "fail_next_calls",
        "throttle_next_calls",
        "daily_limit_next_calls",
        "drop_next_answers",
        "hold_answer_of_call",
        "slow_answer_ms",
        "updated_at",
    ]
    list_editable = [
        "reject_email_pattern",
        "reject_code",
        "fail_next_calls",
        "throttle_next_calls",
        "daily_limit_next_calls",
        "drop_next_answers",
        "hold_answer_of_call",
        "slow_answer_ms",
    ]
    list_select_related = ["account"]
    actions = ["switch_off"]

    @admin.action(description="Switch every fault off")
    def switch_off(self, request, queryset):
        for fault in queryset.select_related("account"):
            services.fault_set(account=fault.account, reset=True)
        self.message_user(request, f"Switched off the faults of {queryset.count()} account(s).")
