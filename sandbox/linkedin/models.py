"""What the simulated LinkedIn knows: members, pages, ad accounts, events, forms, leads, OAuth grants,
lead notification subscriptions and the switches that make it misbehave on purpose.

Ids are LinkedIn's (explicit integer primary keys), so URNs built from them stay stable across seeds.
Forms keep every published version, because leads answer one version and multiple-choice answers
are option ids that only that version can resolve.
"""

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from leadsync_project.fields import FastJSONField


def to_ms(value):
    """Epoch milliseconds, LinkedIn's `Time`."""
    return int(value.timestamp() * 1000) if value else None


class Member(models.Model):
    """A LinkedIn member who can sign in on the consent page and own roles."""

    person_id = models.CharField(
        max_length=40, unique=True, help_text="The id in urn:li:person:<id> (also the OpenID `sub`)."
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(help_text="Returned by /v2/userinfo when the token has the `email` scope.")
    locale = models.CharField(max_length=10, default="en_US", help_text="language_COUNTRY, e.g. en_US.")

    class Meta:
        ordering = ["id"]
        verbose_name = "member"

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def urn(self):
        return f"urn:li:person:{self.person_id}"


class Organization(models.Model):
    """A company page: organizes events, owns organic forms and is referenced by ad accounts."""

    id = models.BigIntegerField(primary_key=True, help_text="The id in urn:li:organization:<id>.")
    name = models.CharField(max_length=200, help_text="localizedName.")
    vanity_name = models.SlugField(max_length=100, blank=True)
    website = models.URLField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "organization (company page)"

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def urn(self):
        return f"urn:li:organization:{self.id}"


class OrganizationRole(models.Model):
    """One organizationAcls element: a member's role on a page. Only APPROVED ADMINISTRATOR and
    LEAD_GEN_FORMS_MANAGER roles open a page's forms and leads."""

    class Role(models.TextChoices):
        ADMINISTRATOR = "ADMINISTRATOR"
        LEAD_GEN_FORMS_MANAGER = "LEAD_GEN_FORMS_MANAGER"
        CONTENT_ADMINISTRATOR = "CONTENT_ADMINISTRATOR"
        ANALYST = "ANALYST"
        DIRECT_SPONSORED_CONTENT_POSTER = "DIRECT_SPONSORED_CONTENT_POSTER"
        RECRUITING_POSTER = "RECRUITING_POSTER"
        LEAD_CAPTURE_ADMINISTRATOR = "LEAD_CAPTURE_ADMINISTRATOR"
        CURATOR = "CURATOR"

    class State(models.TextChoices):
        APPROVED = "APPROVED"
        REQUESTED = "REQUESTED"
        REJECTED = "REJECTED"
        REVOKED = "REVOKED"

    LEAD_ROLES = (Role.ADMINISTRATOR, Role.LEAD_GEN_FORMS_MANAGER)

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="organization_roles")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=40, choices=Role.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.APPROVED)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "organization", "role"], name="sbx_li_unique_org_role")
        ]
        verbose_name = "organization role (ACL)"

    def __str__(self):
        return f"{self.member} is {self.role} of {self.organization.name} ({self.state})"


class AdAccount(models.Model):
    """A Campaign Manager account (urn:li:sponsoredAccount); owns SPONSORED forms and leads."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        DRAFT = "DRAFT"
        CANCELED = "CANCELED"
        PENDING_DELETION = "PENDING_DELETION"
        REMOVED = "REMOVED"

    id = models.BigIntegerField(primary_key=True, help_text="The id in urn:li:sponsoredAccount:<id>.")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    test = models.BooleanField(default=False, help_text="Test accounts never serve ads.")
    currency = models.CharField(max_length=3, default="USD")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="ad_accounts", help_text="The page the account advertises."
    )
    users = models.ManyToManyField(Member, through="AdAccountUser", related_name="ad_accounts")

    class Meta:
        ordering = ["id"]
        verbose_name = "ad account"

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def urn(self):
        return f"urn:li:sponsoredAccount:{self.id}"


class AdAccountUser(models.Model):
    """A member's access to an ad account; any role lets them read the account's forms and leads."""

    class Role(models.TextChoices):
        ACCOUNT_BILLING_ADMIN = "ACCOUNT_BILLING_ADMIN"
        ACCOUNT_MANAGER = "ACCOUNT_MANAGER"
        CAMPAIGN_MANAGER = "CAMPAIGN_MANAGER"
        CREATIVE_MANAGER = "CREATIVE_MANAGER"
        VIEWER = "VIEWER"

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE)
    role = models.CharField(max_length=30, choices=Role.choices, default=Role.ACCOUNT_MANAGER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "account"], name="sbx_li_unique_account_user")]
        verbose_name = "ad account user"

    def __str__(self):
        return f"{self.member} – {self.role} of {self.account}"


class Campaign(models.Model):
    """A sponsored campaign; its leads carry leadMetadata.sponsoredLeadMetadata.campaign."""

    id = models.BigIntegerField(primary_key=True, help_text="The id in urn:li:sponsoredCampaign:<id>.")
    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    creative_id = models.BigIntegerField(help_text="The sponsored creative the leads are associated with.")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def urn(self):
        return f"urn:li:sponsoredCampaign:{self.id}"

    @property
    def creative_urn(self):
        return f"urn:li:sponsoredCreative:{self.creative_id}"


class LeadType(models.TextChoices):
    SPONSORED = "SPONSORED"
    EVENT = "EVENT"
    COMPANY = "COMPANY"
    ORGANIZATION_PRODUCT = "ORGANIZATION_PRODUCT"


class LeadForm(models.Model):
    """A lead gen form. Its content lives in versions; the API shows the latest one by default."""

    class State(models.TextChoices):
        DRAFT = "DRAFT"
        PUBLISHED = "PUBLISHED"
        ARCHIVED = "ARCHIVED"

    id = models.BigIntegerField(primary_key=True, help_text="The id in urn:li:leadGenForm:<id>.")
    name = models.CharField(max_length=200)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="lead_forms",
        help_text="Owner when the form is organic (event, company page or product page).",
    )
    ad_account = models.ForeignKey(
        AdAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="lead_forms",
        help_text="Owner when the form is sponsored.",
    )
    lead_type = models.CharField(
        max_length=30, choices=LeadType.choices,
        help_text="What kind of lead a submission creates by default (sandbox only; not in the API form).",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PUBLISHED)
    locale = models.CharField(max_length=10, default="en_US", help_text="creationLocale as language_COUNTRY.")
    created = models.DateTimeField(default=timezone.now)
    last_modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = "lead gen form"
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False) & Q(ad_account__isnull=True))
                | (Q(organization__isnull=True) & Q(ad_account__isnull=False)),
                name="sbx_li_form_has_one_owner",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def urn(self):
        return f"urn:li:leadGenForm:{self.id}"

    @property
    def owner(self):
        """The owner union as LinkedIn writes it."""
        if self.ad_account_id:
            return {"sponsoredAccount": f"urn:li:sponsoredAccount:{self.ad_account_id}"}
        return {"organization": f"urn:li:organization:{self.organization_id}"}

    @property
    def latest_version(self):
        return self.versions.order_by("-version").first()


class LeadFormVersion(models.Model):
    """One version of a form's content, stored in the versioned API's shape (LinkedIn's Lead Sync schema).

    `questions` holds LeadGenFormQuestion objects, `legal_info` a LeadGenFormLegalInfo object.
    """

    form = models.ForeignKey(LeadForm, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(help_text="versionId")
    headline = models.JSONField(help_text="MultiLocaleString.")
    description = models.JSONField(null=True, blank=True, help_text="MultiLocaleString.")
    questions = FastJSONField(default=list, help_text="LeadGenFormQuestion[] (inline).")
    multi_select_question_ids = models.JSONField(
        default=list, blank=True,
        help_text="Multiple-choice questions that accept several options (sandbox only; drives answer generation).",
    )
    legal_info = FastJSONField(default=dict, help_text="LeadGenFormLegalInfo with its consents.")
    hidden_fields = models.JSONField(default=list, blank=True, help_text="HiddenField[]: {name, value}.")
    post_submission_info = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["form_id", "version"]
        constraints = [models.UniqueConstraint(fields=["form", "version"], name="sbx_li_unique_form_version")]
        verbose_name = "lead gen form version"

    def __str__(self):
        return f"{self.form.name} v{self.version}"

    @property
    def urn(self):
        return f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{self.form_id},{self.version})"

    def question(self, question_id):
        return next((q for q in self.questions if q["questionId"] == question_id), None)


class Event(models.Model):
    """A LinkedIn event organized by a page; may have a lead gen form attached."""

    id = models.BigIntegerField(primary_key=True, help_text="The id in urn:li:event:<id>.")
    organizer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    locale = models.CharField(max_length=10, default="en_US")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    lead_form = models.ForeignKey(
        LeadForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="events",
        help_text="Registration form; events without one collect no leads.",
    )
    lead_form_urn_versioned = models.BooleanField(
        default=False,
        help_text="Show the attached form as a versionedLeadGenForm URN instead of a leadGenForm URN "
        "(LinkedIn's value type is unverified; the sandbox serves both).",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def urn(self):
        return f"urn:li:event:{self.id}"


class Lead(models.Model):
    """A lead gen form response. Stored as data; rendered in the answer shape chosen per lead."""

    class Shape(models.TextChoices):
        VERSIONED = "VERSIONED", "versioned (answerDetails.textQuestionAnswer)"
        SCHEMA = "SCHEMA", "schema (name + accepted, seeds 002/003)"
        LEGACY = "LEGACY", "legacy (question URN + com.linkedin.leadgenform.*)"

    id = models.CharField(max_length=64, primary_key=True, help_text="Response id, e.g. <uuid>-5.")
    form_version = models.ForeignKey(LeadFormVersion, on_delete=models.PROTECT, related_name="leads")
    lead_type = models.CharField(max_length=30, choices=LeadType.choices)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    ad_account = models.ForeignKey(AdAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    submitter = models.CharField(max_length=60, blank=True, help_text="Person URN; empty for guest leads.")
    submitted_at = models.DateTimeField(db_index=True)
    test_lead = models.BooleanField(default=False)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    associated_entity = FastJSONField(
        null=True, blank=True, help_text='Union, e.g. {"event": "urn:li:event:1"}; absent when null.'
    )
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    answers = FastJSONField(
        default=list, help_text='[{"questionId": 1, "text": "…"} | {"questionId": 2, "options": [1, 3]}]'
    )
    consents = FastJSONField(default=list, help_text='[{"consentId": 1, "accepted": true}]')
    shape = models.CharField(max_length=12, choices=Shape.choices, default=Shape.VERSIONED)
    response_id = models.CharField(max_length=64, blank=True, help_text="Front-end tracking id.")

    class Meta:
        ordering = ["-submitted_at", "id"]
        verbose_name = "lead (form response)"
        indexes = [
            models.Index(fields=["lead_type", "submitted_at"], name="sbx_li_lead_type_time"),
            # The leadFormResponses finder: owner and lead type, newest first, ties by id. With `id` in the
            # index a page's ids come from the index alone, so OFFSET stays cheap at any depth.
            models.Index(fields=["organization", "lead_type", "-submitted_at", "id"], name="sbx_li_lead_org_page"),
            models.Index(fields=["ad_account", "lead_type", "-submitted_at", "id"], name="sbx_li_lead_account_page"),
        ]

    def __str__(self):
        return self.id

    @property
    def urn(self):
        return f"urn:li:leadGenFormResponse:{self.id}"

    @property
    def owner(self):
        if self.ad_account_id:
            return {"sponsoredAccount": f"urn:li:sponsoredAccount:{self.ad_account_id}"}
        return {"organization": f"urn:li:organization:{self.organization_id}"}


class AuthorizationCode(models.Model):
    """A single-use code from the consent page; lives 30 minutes."""

    LIFETIME = timedelta(minutes=30)

    code = models.CharField(max_length=100, unique=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    client_id = models.CharField(max_length=100)
    redirect_uri = models.CharField(max_length=2000)
    scopes = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth authorization code"

    def __str__(self):
        return f"code for {self.member} ({self.created:%Y-%m-%d %H:%M})"

    @property
    def expires_at(self):
        return self.created + self.LIFETIME


class Grant(models.Model):
    """One member authorisation of the app. Refresh tokens live until `refresh_expires_at`, fixed at
    the first authorisation: refreshing never extends it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="grants")
    client_id = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    authorized_at = models.DateTimeField(default=timezone.now)
    refresh_expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-authorized_at"]
        verbose_name = "OAuth grant"

    def __str__(self):
        return f"{self.member} → {self.client_id} ({', '.join(self.scopes)})"


class TokenState(models.TextChoices):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class _Token(models.Model):
    token = models.CharField(max_length=200, unique=True)
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created"]

    def __str__(self):
        return f"{self.token[:8]}… ({self.status()})"

    def status(self, now=None):
        now = now or timezone.now()
        if self.revoked_at:
            return TokenState.REVOKED
        if self.expires_at <= now:
            return TokenState.EXPIRED
        return TokenState.ACTIVE


class AccessToken(_Token):
    """A bearer token for rest/ and v2/ calls."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="access_tokens")

    class Meta(_Token.Meta):
        verbose_name = "OAuth access token"


class RefreshToken(_Token):
    """A programmatic refresh token; spent by its first use."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="refresh_tokens")
    used_at = models.DateTimeField(null=True, blank=True, help_text="Spent: a refresh token works once.")

    class Meta(_Token.Meta):
        verbose_name = "OAuth refresh token"

    def status(self, now=None):
        if self.used_at and not self.revoked_at:
            return TokenState.REVOKED
        return super().status(now)


class LeadNotification(models.Model):
    """A lead notification subscription (rest/leadNotifications)."""

    webhook = models.URLField(max_length=2000)
    owner = models.JSONField(help_text='{"organization": urn} or {"sponsoredAccount": urn}.')
    lead_type = models.CharField(max_length=30, choices=LeadType.choices)
    versioned_form = models.CharField(max_length=200, blank=True, help_text="Only leads of this form version.")
    associated_entity = models.JSONField(null=True, blank=True, help_text="Only leads associated with this entity.")
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = "lead notification subscription"

    def __str__(self):
        return f"{self.lead_type} {next(iter(self.owner.values()), '')} → {self.webhook}"


class WebhookDelivery(models.Model):
    """One signed POST (or a validation GET) to a subscriber, with its outcome."""

    subscription = models.ForeignKey(
        LeadNotification, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    webhook = models.URLField(max_length=2000)
    lead_urn = models.CharField(max_length=120, blank=True)
    action = models.CharField(max_length=20, help_text="CREATED or DELETED.")
    payload = models.TextField(help_text="The exact body that was signed.")
    signature = models.CharField(max_length=64)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.action} {self.lead_urn} → {self.webhook}: {self.status_code or self.error[:40]}"

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300


class BadAnswer(models.TextChoices):
    TRUNCATED = "truncated", "truncated JSON (the answer cut off halfway)"
    HTML = "html", "an HTML page instead of JSON"


class SandboxSettings(models.Model):
    """The switchboard (a single row): consent behaviour, paging quirks and fault switches.

    Counters (`throttle_remaining`, `server_errors_remaining`, `bad_answers_remaining`) count down by one
    per API call so a test or a demo can say exactly which calls fail.
    """

    auto_approve = models.BooleanField(
        default=False, help_text="Approve every authorization request at once, without the consent page."
    )
    throttle_remaining = models.PositiveIntegerField(default=0, help_text="Answer 429 to this many next API calls.")
    throttle_retry_after = models.PositiveIntegerField(
        null=True, blank=True, help_text="Retry-After seconds sent with those 429s (none when empty)."
    )
    server_errors_remaining = models.PositiveIntegerField(
        default=0, help_text="Answer a 5xx to this many next API calls."
    )
    server_error_status = models.PositiveIntegerField(default=500, help_text="500, 502, 503 or 504.")
    bad_answers_remaining = models.PositiveIntegerField(
        default=0, help_text="Answer this many next API calls with HTTP 200 and a body that is not valid JSON."
    )
    bad_answer_kind = models.CharField(
        max_length=12, choices=BadAnswer.choices, default=BadAnswer.TRUNCATED,
        help_text="What those bodies are: a real answer cut off halfway, or an HTML page (as a proxy sends).",
    )
    access_token_lifetime = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds for new access tokens (default 60 days)."
    )
    refresh_token_lifetime = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds for new authorisations' refresh tokens (default 365 days)."
    )
    short_pages = models.BooleanField(
        default=True,
        help_text="leadFormResponses pages of 3 or more come back one element short now and then while "
        "`total` says more follow (every fifth position is a lead LinkedIn filtered out).",
    )
    page_size_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Largest `count` honoured by finders; larger requests are cut to it."
    )
    validate_webhooks = models.BooleanField(
        default=False, help_text="Send the challengeCode GET to a webhook before accepting a subscription."
    )
    seed_anchor = models.DateTimeField(
        null=True, blank=True, help_text="'Now' of the first seed run; reruns reuse it so nothing moves."
    )

    class Meta:
        verbose_name = "sandbox settings and fault switches"
        verbose_name_plural = "sandbox settings and fault switches"

    def __str__(self):
        return "LinkedIn sandbox settings"

    @classmethod
    def load(cls):
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
