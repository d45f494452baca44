"""The sandbox's control room: every simulated record, plus actions that make LinkedIn do things
(register for an event, generate a test lead, delete a lead, expire or revoke tokens)."""

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from . import serializers, switches
from .models import (
    AccessToken, AdAccount, AdAccountUser, AuthorizationCode, Campaign, Event, Grant, Lead, LeadForm,
    LeadFormVersion, LeadNotification, Member, Organization, OrganizationRole, RefreshToken, SandboxSettings,
    WebhookDelivery,
)
from .services import LeadRejected, lead_delete, lead_generate_for_event, lead_submit


def _pretty(data):
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(data, indent=2, ensure_ascii=False))


def _report(modeladmin, request, leads, errors):
    deliveries = sum(len(lead.deliveries) for lead in leads)
    if leads:
        modeladmin.message_user(
            request, f"Created {len(leads)} lead(s) ({', '.join(lead.id for lead in leads[:5])}"
            f"{'…' if len(leads) > 5 else ''}); {deliveries} webhook notification(s) sent.", messages.SUCCESS,
        )
    for error in errors:
        modeladmin.message_user(request, error, messages.WARNING)


class OrganizationRoleInline(admin.TabularInline):
    model = OrganizationRole
    extra = 0
    autocomplete_fields = ["organization"]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["__str__", "person_id", "email", "locale"]
    search_fields = ["first_name", "last_name", "email", "person_id"]
    inlines = [OrganizationRoleInline]
    actions = ["revoke_tokens"]

    @admin.action(description="Revoke all tokens (as if the member removed the app)")
    def revoke_tokens(self, request, queryset):
        for member in queryset:
            self.message_user(request, switches.tokens_revoke_for_member(member=member))


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "vanity_name", "website"]
    search_fields = ["name", "id", "vanity_name"]


@admin.register(OrganizationRole)
class OrganizationRoleAdmin(admin.ModelAdmin):
    list_display = ["member", "organization", "role", "state", "created"]
    list_filter = ["role", "state", "organization"]
    list_select_related = ["member", "organization"]
    search_fields = ["member__first_name", "member__last_name", "organization__name"]


class AdAccountUserInline(admin.TabularInline):
    model = AdAccountUser
    extra = 0


@admin.register(AdAccount)
class AdAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "status", "test", "organization", "currency"]
    list_filter = ["status", "test"]
    list_select_related = ["organization"]
    search_fields = ["name", "id"]
    inlines = [AdAccountUserInline]


@admin.register(AdAccountUser)
class AdAccountUserAdmin(admin.ModelAdmin):
    list_display = ["member", "account", "role"]
    list_filter = ["role"]
    list_select_related = ["member", "account"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "account", "creative_id"]
    list_select_related = ["account"]
    search_fields = ["name", "id"]


class LeadFormVersionInline(admin.StackedInline):
    model = LeadFormVersion
    extra = 0
    fields = ["version", "created", "headline", "questions", "legal_info", "hidden_fields", "multi_select_question_ids"]
    show_change_link = True


@admin.register(LeadForm)
class LeadFormAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "lead_type", "state", "owner_display", "version_count", "locale"]
    list_filter = ["lead_type", "state", "organization", "ad_account"]
    list_select_related = ["organization", "ad_account"]
    search_fields = ["name", "id"]
    inlines = [LeadFormVersionInline]
    actions = ["generate_lead", "generate_test_lead"]

    @admin.display(description="owner")
    def owner_display(self, obj):
        return obj.organization or obj.ad_account

    @admin.display(description="versions")
    def version_count(self, obj):
        return obj.versions.count()

    def _generate(self, request, queryset, *, test):
        created, errors = [], []
        for form in queryset:
            try:
                created.append(lead_submit(form, test=test))
            except LeadRejected as exc:
                errors.append(f"{form}: {exc}")
        _report(self, request, created, errors)

    @admin.action(description="Generate a lead (as a member submitting the form)")
    def generate_lead(self, request, queryset):
        self._generate(request, queryset, test=False)

    @admin.action(description="Generate a test lead")
    def generate_test_lead(self, request, queryset):
        self._generate(request, queryset, test=True)


@admin.register(LeadFormVersion)
class LeadFormVersionAdmin(admin.ModelAdmin):
    list_display = ["form", "version", "created", "question_count"]
    list_filter = ["form"]
    list_select_related = ["form"]
    search_fields = ["form__name", "form__id"]

    @admin.display(description="questions")
    def question_count(self, obj):
        return len(obj.questions)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "organizer", "starts_at", "lead_form", "register_link"]
    list_filter = ["organizer", ("lead_form", admin.EmptyFieldListFilter)]
    list_select_related = ["organizer", "lead_form"]
    search_fields = ["name", "id"]
    actions = ["register_lead", "register_test_lead"]

    @admin.display(description="registration page")
    def register_link(self, obj):
        if not obj.lead_form_id:
            return "—"
        return format_html('<a href="{}">register</a>', reverse("sandbox_linkedin:event_register", args=[obj.id]))

    def _register(self, request, queryset, *, test):
        created, errors = [], []
        for event in queryset:
            try:
                created.append(lead_generate_for_event(event, test=test))
            except LeadRejected as exc:
                errors.append(str(exc))
        _report(self, request, created, errors)

    @admin.action(description="Register a lead for this event")
    def register_lead(self, request, queryset):
        self._register(request, queryset, test=False)

    @admin.action(description="Register a test lead for this event")
    def register_test_lead(self, request, queryset):
        self._register(request, queryset, test=True)


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["id", "form_name", "version_number", "lead_type", "submitted_at", "test_lead", "is_guest", "shape"]
    list_filter = ["lead_type", "test_lead", "shape", "form_version__form", "event"]
    list_select_related = ["form_version__form"]
    search_fields = ["id", "submitter"]
    date_hierarchy = "submitted_at"
    readonly_fields = ["as_linkedin_returns_it"]
    actions = ["delete_as_linkedin"]

    @admin.display(description="form")
    def form_name(self, obj):
        return obj.form_version.form.name

    @admin.display(description="version")
    def version_number(self, obj):
        return obj.form_version.version

    @admin.display(description="guest", boolean=True)
    def is_guest(self, obj):
        return not obj.submitter

    @admin.display(description="as the API returns it")
    def as_linkedin_returns_it(self, obj):
        return _pretty(serializers.lead(obj))

    @admin.action(description="Delete as LinkedIn does (send DELETED notifications)")
    def delete_as_linkedin(self, request, queryset):
        sent = 0
        count = 0
        for lead in queryset.select_related("form_version__form"):
            sent += len(lead_delete(lead))
            count += 1
        self.message_user(request, f"Deleted {count} lead(s); {sent} DELETED notification(s) sent.")


@admin.register(AuthorizationCode)
class AuthorizationCodeAdmin(admin.ModelAdmin):
    list_display = ["member", "client_id", "redirect_uri", "created", "used_at"]
    list_select_related = ["member"]
    exclude = ["code"]
    list_filter = ["client_id"]


class _TokenAdmin(admin.ModelAdmin):
    list_display = ["preview", "member", "status_display", "created", "expires_at", "revoked_at"]
    list_select_related = ["grant__member"]
    exclude = ["token"]
    readonly_fields = ["preview"]
    search_fields = ["grant__member__first_name", "grant__member__last_name"]
    list_filter = ["revoked_at"]
    actions = ["expire_now", "revoke"]

    @admin.display(description="token")
    def preview(self, obj):
        return f"{obj.token[:10]}…"

    @admin.display(description="member")
    def member(self, obj):
        return obj.grant.member

    @admin.display(description="status")
    def status_display(self, obj):
        return obj.status()

    @admin.action(description="Expire now")
    def expire_now(self, request, queryset):
        self.message_user(request, f"{queryset.update(expires_at=timezone.now())} token(s) expired.")

    @admin.action(description="Revoke")
    def revoke(self, request, queryset):
        self.message_user(request, f"{queryset.update(revoked_at=timezone.now())} token(s) revoked.")

    def lookup_allowed(self, lookup, value, request=None):
        return not lookup.startswith("token") and super().lookup_allowed(lookup, value, request)


@admin.register(AccessToken)
class AccessTokenAdmin(_TokenAdmin):
    pass


@admin.register(RefreshToken)
class RefreshTokenAdmin(_TokenAdmin):
    list_display = [*_TokenAdmin.list_display, "used_at"]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["member", "client_id", "scope_list", "authorized_at", "refresh_expires_at"]
    list_select_related = ["member"]
    list_filter = ["client_id"]

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ["created", "action", "lead_urn", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    ordering = ["-created"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LeadNotification)
class LeadNotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "lead_type", "owner_urn", "webhook", "versioned_form", "created"]
    list_filter = ["lead_type"]
    search_fields = ["webhook", "versioned_form"]
    inlines = [WebhookDeliveryInline]

    @admin.display(description="owner")
    def owner_urn(self, obj):
        return next(iter(obj.owner.values()), "")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created", "action", "lead_urn", "webhook", "status_code", "ok_display", "duration_ms"]
    list_filter = ["action", "status_code"]
    search_fields = ["lead_urn", "webhook", "error"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    @admin.display(description="ok", boolean=True)
    def ok_display(self, obj):
        return obj.ok

    def has_add_permission(self, request):
        return False


@admin.register(SandboxSettings)
class SandboxSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "throttle_remaining", "server_errors_remaining", "bad_answers_remaining", "short_pages",
        "page_size_cap", "access_token_lifetime", "refresh_token_lifetime", "auto_approve",
    ]
    fieldsets = [
        ("Consent", {"fields": ["auto_approve", "validate_webhooks"]}),
        ("Failures", {"fields": ["throttle_remaining", "throttle_retry_after", "server_errors_remaining",
                                 "server_error_status", "bad_answers_remaining", "bad_answer_kind"]}),
        ("Tokens", {"fields": ["access_token_lifetime", "refresh_token_lifetime"]}),
        ("Paging", {"fields": ["short_pages", "page_size_cap"]}),
        ("Seed", {"fields": ["seed_anchor"]}),
    ]
    readonly_fields = ["seed_anchor"]
    actions = ["expire_access_tokens", "reset_switches"]

    def has_add_permission(self, request):
        return not SandboxSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Expire every access token now")
    def expire_access_tokens(self, request, queryset):
        self.message_user(request, f"{switches.access_tokens_expire_all()} access token(s) expired.")

    @admin.action(description="Reset every switch to its default")
    def reset_switches(self, request, queryset):
        switches.settings_update(changes={"reset": True})
        self.message_user(request, "Switches reset.")

    def changelist_view(self, request, extra_context=None):
        SandboxSettings.load()
        return super().changelist_view(request, extra_context)
