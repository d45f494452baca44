"""What LeadSync knows about the outside world: LinkedIn and CRM connections (with their secrets
encrypted at rest) and what discovery found behind them (organizations and ad accounts, events,
lead forms and their versions, the CRM's field catalogue)."""

from datetime import timedelta

from django.db import models
from django.utils import timezone

from connectors.fields import EncryptedTextField


class LinkedInConnection(models.Model):
    """One authorised LinkedIn member. Its tokens are what every pull uses."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorisation"
        REVOKED = "revoked", "Revoked"

    name = models.CharField(
        max_length=100, unique=True, help_text="A label for this account, e.g. the member's name or team."
    )
    member_urn = models.CharField(
        "member URN", max_length=100, blank=True, help_text="The LinkedIn member who authorised LeadSync."
    )
    member_name = models.CharField(max_length=200, blank=True, help_text="The member's name as LinkedIn reports it.")
    member_email = models.CharField(max_length=254, blank=True, help_text="The member's e-mail, when shared.")
    access_token = EncryptedTextField(help_text="Encrypted at rest; never displayed.")
    access_token_expires_at = models.DateTimeField(
        "access token expires", null=True, blank=True, help_text="When LinkedIn stops accepting the access token."
    )
    refresh_token = EncryptedTextField(blank=True, default="", help_text="Encrypted at rest; never displayed.")
    refresh_token_expires_at = models.DateTimeField(
        "refresh token expires",
        null=True,
        blank=True,
        help_text="When the refresh token dies (365 days after the first consent; refreshing does not extend it).",
    )
    scopes = models.JSONField(default=list, blank=True, help_text="The OAuth scopes LinkedIn granted.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    authorized_at = models.DateTimeField(null=True, blank=True, help_text="When the member last gave consent.")
    last_refreshed_at = models.DateTimeField(null=True, blank=True, help_text="When the access token was last renewed.")
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When the token was last checked.")
    last_heartbeat_ok = models.BooleanField(null=True, help_text="Whether the last check found the token valid.")
    last_error = models.TextField(blank=True, help_text="The last problem with this connection, in plain words.")
    permission_problems = models.JSONField(
        default=list, blank=True,
        help_text="What the granted scopes and roles do not allow, checked at connection and at each heartbeat.",
    )
    discovery_status = models.CharField(
        max_length=255, blank=True, help_text="Progress or outcome of the last discovery of organizations, events and forms."
    )
    discovered_at = models.DateTimeField(null=True, blank=True, help_text="When discovery last finished.")
    reauth_notified_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When admins were e-mailed that this connection needs re-authorisation."
    )
    refreshing_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A worker is renewing the tokens until then."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LinkedIn connection"
        ordering = ["name"]

    def __str__(self):
        return self.name

    def access_token_expired(self, now=None):
        now = now or timezone.now()
        return self.access_token_expires_at is not None and self.access_token_expires_at <= now

    def refresh_token_expired(self, now=None):
        now = now or timezone.now()
        return self.refresh_token_expires_at is not None and self.refresh_token_expires_at <= now

    @property
    def has_refresh_token(self):
        return bool(self.refresh_token)

    def token_state(self, now=None):
        """A short operator-facing summary, e.g. "valid for 59 days" or "expired"."""
        now = now or timezone.now()
        if self.status != self.Status.ACTIVE:
            return self.get_status_display()
        if self.access_token_expires_at is None:
            return "valid (expiry unknown)"
        left = self.access_token_expires_at - now
        if left <= timedelta(0):
            return "access token expired" + ("; refreshable" if self.has_refresh_token else "")
        if left < timedelta(hours=1):
            return f"valid for {int(left.total_seconds() // 60)} minutes"
        if left < timedelta(days=2):
            return f"valid for {int(left.total_seconds() // 3600)} hours"
        return f"valid for {left.days} days"


class CrmConnection(models.Model):
    """A Lead Gen & CRM (SharpSpring) account, or any server speaking its API."""

    class Status(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"

    name = models.CharField(max_length=100, unique=True, help_text="A label for this CRM account.")
    api_url = models.URLField(
        "API URL", max_length=500, help_text="The JSON-RPC endpoint, e.g. https://api.sharpspring.com/pubapi/v1.2/"
    )
    account_id = models.CharField("account ID", max_length=100, help_text="The CRM's API account ID.")
    secret_key = EncryptedTextField(help_text="The CRM's API secret key. Encrypted at rest; never displayed.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNCHECKED, db_index=True)
    last_checked_at = models.DateTimeField(null=True, blank=True, help_text="When the credentials were last checked.")
    last_error = models.TextField(blank=True, help_text="The last problem with this account, in plain words.")
    fields_loaded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the CRM's field catalogue was last read."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CRM connection"
        ordering = ["name"]

    def __str__(self):
        return self.name


class CrmField(models.Model):
    """One lead field of a CRM account (its field catalogue, read with getFields)."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="fields")
    system_name = models.CharField(max_length=200, help_text="The key the CRM API uses for this field.")
    label = models.CharField(max_length=255)
    data_type = models.CharField(max_length=50, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True, help_text="Longest value the CRM accepts.")
    is_custom = models.BooleanField(default=False)
    is_required = models.BooleanField(default=False)
    options = models.JSONField(null=True, blank=True, help_text="Allowed values of a picklist field.")
    crm_id = models.CharField("CRM field ID", max_length=50, blank=True)

    class Meta:
        verbose_name = "CRM field"
        ordering = ["connection", "is_custom", "label"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "system_name"], name="crmfield_unique_per_connection")
        ]

    def __str__(self):
        return f"{self.label} ({self.system_name})"


class LinkedInOwner(models.Model):
    """An organization (company page) or ad account whose lead forms the member may read."""

    class Kind(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        SPONSORED_ACCOUNT = "sponsoredAccount", "Ad account"

    connection = models.ForeignKey(LinkedInConnection, on_delete=models.CASCADE, related_name="owners")
    urn = models.CharField("URN", max_length=100, help_text="urn:li:organization:… or urn:li:sponsoredAccount:…")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=255, blank=True)
    role = models.CharField(
        max_length=50, blank=True, help_text="The member's role (organizations) or the account status (ad accounts)."
    )
    organization_urn = models.CharField(
        "organization URN", max_length=100, blank=True, help_text="For ad accounts: the organization they belong to."
    )
    can_read_leads = models.BooleanField(
        default=True, help_text="Whether the member's role lets LeadSync read this owner's leads."
    )
    discovered_at = models.DateTimeField(default=timezone.now, help_text="When discovery first found it.")
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="When discovery last found it gone from LinkedIn; its stored data is kept."
    )

    class Meta:
        verbose_name = "LinkedIn organization or ad account"
        verbose_name_plural = "LinkedIn organizations and ad accounts"
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["connection", "urn"], name="owner_unique_per_connection")]

    def __str__(self):
        return self.name or self.urn

    def lead_types(self) -> list[str]:
        """The lead types LinkedIn can give this owner's forms: an ad account's forms receive
        sponsored leads, an organization's forms the organic ones (events, company and product
        pages), and one page form may receive more than one organic type."""
        if self.kind == self.Kind.SPONSORED_ACCOUNT:
            return [LeadForm.LeadType.SPONSORED.value]
        return [t.value for t in LeadForm.ORGANIC_LEAD_TYPES]


class LinkedInEvent(models.Model):
    """A LinkedIn event organised by an organization; `lead_form_urn` is set when a form is attached."""

    owner = models.ForeignKey(LinkedInOwner, on_delete=models.CASCADE, related_name="events")
    urn = models.CharField("URN", max_length=100)
    name = models.CharField(max_length=255, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    lead_form_urn = models.CharField("lead form URN", max_length=200, blank=True)
    discovered_at = models.DateTimeField(default=timezone.now, help_text="When discovery first found it.")
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="When discovery last found it gone from LinkedIn; its stored data is kept."
    )

    class Meta:
        verbose_name = "LinkedIn event"
        ordering = ["-starts_at", "name"]
        constraints = [models.UniqueConstraint(fields=["owner", "urn"], name="event_unique_per_owner")]

    def __str__(self):
        return self.name or self.urn


class LeadForm(models.Model):
    """A LinkedIn lead gen form; its questions live on its versions."""

    class LeadType(models.TextChoices):
        SPONSORED = "SPONSORED", "Sponsored (ads)"
        EVENT = "EVENT", "Event"
        COMPANY = "COMPANY", "Company page"
        ORGANIZATION_PRODUCT = "ORGANIZATION_PRODUCT", "Product page"

    ORGANIC_LEAD_TYPES = (LeadType.EVENT, LeadType.COMPANY, LeadType.ORGANIZATION_PRODUCT)

    owner = models.ForeignKey(LinkedInOwner, on_delete=models.CASCADE, related_name="forms")
    event = models.ForeignKey(
        LinkedInEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="forms",
        help_text="The event this form is attached to, if any.",
    )
    linkedin_id = models.CharField("LinkedIn form ID", max_length=40, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=20, blank=True, help_text="DRAFT, PROCESSING, PUBLISHED or ARCHIVED.")
    lead_types = models.JSONField(
        default=list, blank=True, help_text="Lead types this form receives (SPONSORED, EVENT, COMPANY, ORGANIZATION_PRODUCT)."
    )
    current_version = models.PositiveIntegerField(null=True, blank=True)
    locale = models.CharField(max_length=20, blank=True)
    discovered_at = models.DateTimeField(default=timezone.now, help_text="When discovery first found it.")
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="When discovery last found it gone from LinkedIn; its stored data is kept."
    )

    class Meta:
        verbose_name = "lead form"
        ordering = ["owner", "name"]
        constraints = [models.UniqueConstraint(fields=["owner", "linkedin_id"], name="form_unique_per_owner")]

    def __str__(self):
        return self.name or f"form {self.linkedin_id}"

    def receives(self) -> list[str]:
        """The lead types to ask LinkedIn for: the ones discovery recorded, else all its owner's."""
        return list(self.lead_types) or self.owner.lead_types()


class LeadFormVersion(models.Model):
    """One version of a form: the questions (with options), hidden fields and consents a lead
    answered. Multiple-choice answers are resolved through the version the lead answered."""

    form = models.ForeignKey(LeadForm, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField(help_text="The normalised form: questions, options, hidden fields, consents.")
    raw = models.JSONField(default=dict, blank=True, help_text="The form as LinkedIn sent it.")
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "lead form version"
        ordering = ["form", "-version"]
        constraints = [models.UniqueConstraint(fields=["form", "version"], name="form_version_unique")]

    def __str__(self):
        return f"{self.form} v{self.version}"

    @property
    def question_count(self):
        return len(self.definition.get("questions", []))
