from django import forms
from django.contrib import admin, messages
from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from django.template.loader import render_to_string

from connectors.clients import crm_client_for
from connectors.crm_connections import crm_fields_load
from connectors.exceptions import ApiError, Unauthorized
from connectors.linkedin.forms import form_fields
from connectors.models import (
    CrmConnection,
    CrmField,
    LeadForm,
    LeadFormVersion,
    LinkedInConnection,
    LinkedInEvent,
    LinkedInOwner,
)

SECRET_WORDS = ("token", "secret")


class NoSecretLookupsMixin:
    """Refuse changelist filters on secret columns (`?access_token__startswith=…` would be an oracle)."""

    def lookup_allowed(self, lookup, value, request=None):
        if any(word in lookup for word in SECRET_WORDS):
            return False
        return super().lookup_allowed(lookup, value, request)


@admin.register(LinkedInConnection)
class LinkedInConnectionAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    change_list_template = "admin/connectors/linkedinconnection/change_list.html"
    list_display = (
        "name", "member_name", "status", "token_state", "access_token_expires_at", "refresh_token_expires_at",
        "last_heartbeat_at", "last_heartbeat_ok", "discovery_status",
    )
    list_filter = ("status", "last_heartbeat_ok")
    actions = ["discover_now", "check_tokens_now"]
    search_fields = ("name", "member_name", "member_urn", "member_email")
    # Tokens arrive through the OAuth flow or `leadsync linkedin add`; they are never shown or typed here.
    fields = (
        "name", "member_name", "member_urn", "member_email", "status", "token_state", "scopes", "permission_problems",
        "access_token_expires_at", "refresh_token_expires_at", "authorized_at", "last_refreshed_at",
        "last_heartbeat_at", "last_heartbeat_ok", "last_error", "discovery_status", "discovered_at",
        "created_at", "updated_at",
    )
    readonly_fields = (
        "member_name", "member_urn", "member_email", "status", "token_state", "scopes", "permission_problems",
        "access_token_expires_at",
        "refresh_token_expires_at", "authorized_at", "last_refreshed_at", "last_heartbeat_at", "last_heartbeat_ok",
        "last_error", "discovery_status", "discovered_at", "created_at", "updated_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).defer("access_token", "refresh_token")

    @admin.action(description="Discover organizations, events and forms now", permissions=["change"])
    def discover_now(self, request, queryset):
        from django.db import transaction

        from connectors import tasks

        ids = list(queryset.values_list("pk", flat=True))
        try:
            for pk in ids:
                transaction.on_commit(lambda pk=pk: tasks.discover.delay(pk))
        except Exception as exc:  # noqa: BLE001 - the broker's many failure types
            self.message_user(request, f"Could not queue discovery: {type(exc).__name__}. Is the broker running?",
                              messages.ERROR)
            return
        self.message_user(request, f"Discovery queued for {len(ids)} connection(s); its progress shows in the list.")

    @admin.action(description="Check the tokens now (heartbeat)", permissions=["change"])
    def check_tokens_now(self, request, queryset):
        from connectors.heartbeat import connection_heartbeat

        for connection in queryset:
            result = connection_heartbeat(connection=connection)
            level = messages.SUCCESS if result["ok"] else messages.ERROR
            self.message_user(request, f"{connection}: {'OK' if result['ok'] else result['error']}; token {result['token']}"
                              + (" (refreshed)" if result["refreshed"] else ""), level)

    def has_add_permission(self, request):
        return False

    @admin.display(description="Token")
    def token_state(self, obj):
        return obj.token_state()


class CrmConnectionForm(forms.ModelForm):
    secret_key = forms.CharField(
        label="Secret key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The CRM's API secret key. Write-only: leave empty to keep the stored key.",
    )

    class Meta:
        model = CrmConnection
        fields = ("name", "api_url", "account_id", "secret_key")

    def clean_secret_key(self):
        value = self.cleaned_data["secret_key"]
        if not value and not self.instance.pk:
            raise forms.ValidationError("A new CRM connection needs its secret key.")
        return value

    def save(self, commit=True):
        secret = self.cleaned_data.get("secret_key")
        if not secret and self.instance.pk:
            # Keep the stored key: reload it instead of overwriting it with an empty string.
            self.instance.secret_key = self._stored_secret()
        return super().save(commit=commit)

    def _stored_secret(self):
        return type(self.instance).objects.only("secret_key").get(pk=self.instance.pk).secret_key

    def clean(self):
        """The credentials must work before anything is saved (like `leadsync crm add`): one real
        call to the CRM. Its refusal or silence is a form error; the secret never is in it."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        secret = cleaned.get("secret_key") or (self._stored_secret() if self.instance.pk else "")
        api_url = cleaned.get("api_url") or settings.LEADGEN_CRM_API_URL
        cleaned["api_url"] = api_url
        try:
            crm_client_for(api_url, account_id=cleaned["account_id"], secret_key=secret).check()
        except Unauthorized:
            raise forms.ValidationError("The CRM refused this account ID and secret key: nothing was saved.") from None
        except ApiError as exc:
            raise forms.ValidationError(f"The CRM could not be asked whether these credentials work ({exc}): "
                                        "nothing was saved.") from None
        return cleaned


@admin.register(CrmConnection)
class CrmConnectionAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    form = CrmConnectionForm
    list_display = ("name", "api_url", "account_id", "status", "field_count", "last_checked_at", "last_error")
    list_filter = ("status",)
    search_fields = ("name", "account_id")
    readonly_fields = ("status", "last_checked_at", "last_error", "fields_loaded_at", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        return list(CrmConnectionForm.Meta.fields) + list(self.readonly_fields)

    actions = ["reload_fields"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret_key").annotate(field_count=Count("fields"))

    def get_changeform_initial_data(self, request):
        return {"api_url": settings.LEADGEN_CRM_API_URL, **super().get_changeform_initial_data(request)}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Not in one transaction, unlike the admin's default: the form checks the credentials with
        # the CRM and the save loads its field catalogue, and no HTTP call may run inside a
        # transaction (SQLite's would lock the database the CRM sandbox shares in the demo).
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        obj.status, obj.last_checked_at, obj.last_error = CrmConnection.Status.ACTIVE, timezone.now(), ""
        super().save_model(request, obj, form, change)
        try:
            count = crm_fields_load(connection=obj)
        except ApiError as exc:
            self.message_user(request, f"{obj}: the credentials work, but the field catalogue could not be loaded "
                                       f"({exc}); use “Check the credentials and reload the field catalogue”.",
                              messages.WARNING)
        else:
            self.message_user(request, f"{obj}: the credentials work; {count} CRM fields loaded.")

    @admin.action(description="Check the credentials and reload the field catalogue", permissions=["change"])
    def reload_fields(self, request, queryset):
        """The admin's twin of `leadsync crm add` for an existing connection: after fields were
        added or deleted in the CRM, mappings offer exactly what the CRM has."""
        for connection in queryset:
            try:
                count = crm_fields_load(connection=CrmConnection.objects.get(pk=connection.pk))
            except ApiError as exc:
                self.message_user(request, f"{connection}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{connection}: {count} fields loaded.")

    @admin.display(description="Fields", ordering="field_count")
    def field_count(self, obj):
        return obj.field_count


@admin.register(CrmField)
class CrmFieldAdmin(admin.ModelAdmin):
    list_display = ("label", "system_name", "connection", "data_type", "max_length", "is_custom", "is_required")
    list_filter = ("connection", "is_custom", "data_type")
    search_fields = ("label", "system_name")
    list_select_related = ("connection",)


class GoneFilter(admin.SimpleListFilter):
    title = "on LinkedIn"
    parameter_name = "gone"

    def lookups(self, request, model_admin):
        return [("no", "Listed by LinkedIn"), ("yes", "Gone from LinkedIn")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(gone_at__isnull=self.value() == "no")
        return queryset


@admin.register(LinkedInOwner)
class LinkedInOwnerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "urn", "role", "can_read_leads", "connection", "discovered_at", "gone_at")
    list_filter = ("kind", GoneFilter, "can_read_leads", "role", "connection")
    search_fields = ("name", "urn")
    list_select_related = ("connection",)


@admin.register(LinkedInEvent)
class LinkedInEventAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "starts_at", "ends_at", "lead_form_urn", "gone_at")
    list_filter = (GoneFilter, "owner")
    search_fields = ("name", "urn", "lead_form_urn")
    list_select_related = ("owner",)


class LeadFormVersionInline(admin.TabularInline):
    model = LeadFormVersion
    fields = ("version", "question_count", "fetched_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Each row is named after its form ("Form v2"): the form comes with it, not a query per row.
        return super().get_queryset(request).defer("raw").select_related("form")


def fields_table(definition) -> str:
    """Every question, hidden field and consent of a form version, as tables (LGF-103)."""
    if not definition:
        return "Not read yet: run discovery."
    return render_to_string("admin/connectors/leadform/fields.html", {"fields": form_fields(definition)})


@admin.register(LeadForm)
class LeadFormAdmin(admin.ModelAdmin):
    """A discovered form with every field of its newest version. Discovery writes these rows; an
    operator reads them (and enables the form from the integrations' side)."""

    list_display = ("__str__", "linkedin_id", "owner", "event", "state", "lead_types", "current_version", "gone_at")
    list_filter = ("state", GoneFilter, "owner")
    search_fields = ("name", "linkedin_id")
    list_select_related = ("owner", "event")
    fields = ("name", "linkedin_id", "owner", "event", "state", "lead_types", "current_version", "locale",
              "discovered_at", "gone_at", "fields_of_the_form")
    readonly_fields = fields
    inlines = [LeadFormVersionInline]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Fields (newest version)")
    def fields_of_the_form(self, obj):
        version = obj.versions.order_by("-version").only("definition").first()
        return fields_table(version.definition if version else None)


@admin.register(LeadFormVersion)
class LeadFormVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "form", "version", "question_count", "fetched_at")
    list_select_related = ("form",)
    search_fields = ("form__name", "form__linkedin_id")
    fields = ("form", "version", "fetched_at", "fields_of_the_version", "raw")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="Fields")
    def fields_of_the_version(self, obj):
        return fields_table(obj.definition)
