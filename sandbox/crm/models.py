"""The sandbox CRM's state: accounts, their field catalogue, leads, a log of every call, fault switches.

Field and lead attributes keep the vendor's names in the API (systemName, dataType, emailAddress…); the
columns use Django's snake_case and the services translate.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from leadsync_project.fields import FastJSONField

# The first lead id of a new account: real ids are ten-digit numbers (crm-api.md shows 3944308738), which
# makes a client that squeezes them into 32-bit integers fail in the sandbox too.
FIRST_LEAD_ID = 3944308001
# How long the "hold the answer of call N" switch keeps an answer back (longer than a client waits).
HOLD_ANSWER_SECONDS = 60


class CrmAccount(models.Model):
    account_id = models.CharField(
        "account ID",
        max_length=64,
        unique=True,
        help_text="The accountID the product sends in the query string.",
    )
    secret_key = models.CharField(
        max_length=128,
        help_text="The secretKey the product sends with every call. Any other value gets HTTP 401.",
    )
    name = models.CharField(max_length=200, blank=True, help_text="A name for operators; the API never shows it.")
    per_second_limit = models.PositiveIntegerField(
        "calls per second",
        default=10,
        help_text="More calls than this within one second answer error 107. 0 turns the limit off.",
    )
    daily_limit = models.PositiveIntegerField(
        "calls per day",
        default=50000,
        help_text="More calls than this in one UTC day answer error 106. 0 turns the limit off.",
    )
    next_lead_id = models.BigIntegerField(
        default=FIRST_LEAD_ID,
        editable=False,
        help_text="The id the next created lead gets.",
    )
    lead_updates_url = models.URLField(
        "lead updates URL",
        max_length=500,
        blank=True,
        help_text="Set by subscribeToLeadUpdates. Recorded only: the sandbox does not post to it.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "CRM account"
        verbose_name_plural = "CRM accounts"
        ordering = ["account_id"]

    def __str__(self):
        return self.name or self.account_id


class CrmField(models.Model):
    class DataType(models.TextChoices):
        TEXT = "text", "Text"
        TEXTAREA = "textarea", "Text area"
        STRING = "string", "String"
        PICKLIST = "picklist", "Picklist"
        COUNTRY = "country", "Country"
        INT = "int", "Integer"
        BOOLEAN = "boolean", "Boolean"
        BIT = "bit", "Bit (0/1)"
        DATETIME = "datetime", "Date and time"

    account = models.ForeignKey(CrmAccount, on_delete=models.CASCADE, related_name="fields")
    system_name = models.CharField(
        "system name",
        max_length=255,
        help_text="The key of this field on a lead. Custom fields keep theirs when the label changes.",
    )
    label = models.CharField(max_length=255, help_text="What the CRM's screens call the field.")
    data_type = models.CharField("data type", max_length=20, choices=DataType.choices, default=DataType.TEXT)
    data_length = models.PositiveIntegerField(
        "maximum length",
        null=True,
        blank=True,
        help_text="Longer values are rejected with error 205. Empty: no limit.",
    )
    is_custom = models.BooleanField("custom", default=False, help_text="Only custom fields can be deleted.")
    is_required = models.BooleanField("required", default=False)
    is_active = models.BooleanField("active", default=True)
    is_available_in_forms = models.BooleanField("available in forms", default=True)
    options = models.JSONField(
        default=list,
        blank=True,
        help_text='Picklist options: a list of {"label", "value", "displayOrder"}.',
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "CRM field"
        verbose_name_plural = "CRM fields"
        ordering = ["account", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "system_name"], name="sandbox_crm_field_unique_system_name"),
        ]

    def __str__(self):
        return self.system_name


class CrmLead(models.Model):
    account = models.ForeignKey(CrmAccount, on_delete=models.CASCADE, related_name="leads")
    lead_id = models.BigIntegerField("lead ID", help_text="The id the API returns for this lead.")
    email_lower = models.CharField(
        "email address",
        max_length=255,
        blank=True,
        help_text="The lead's emailAddress in lower case: duplicates are found on this.",
    )
    is_active = models.BooleanField(
        "active", default=True, help_text="Inactive leads are left out of getLeadsDateRange and duplicate checks."
    )
    data = FastJSONField(
        default=dict,
        blank=True,
        help_text="Every field value by systemName, as strings, exactly as the API returns them.",
    )
    created_at = models.DateTimeField("created", default=timezone.now)
    updated_at = models.DateTimeField("updated", default=timezone.now)

    class Meta:
        verbose_name = "CRM lead"
        verbose_name_plural = "CRM leads"
        ordering = ["account", "lead_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "lead_id"], name="sandbox_crm_lead_unique_id"),
        ]
        indexes = [
            models.Index(fields=["account", "email_lower"], name="sandbox_crm_lead_email"),
            models.Index(fields=["account", "created_at"], name="sandbox_crm_lead_created"),
            models.Index(fields=["account", "updated_at"], name="sandbox_crm_lead_updated"),
        ]

    def __str__(self):
        return f"{self.lead_id} <{self.data.get('emailAddress', '')}>"


class CrmCall(models.Model):
    """One request to the JSON-RPC endpoint, as received and as answered (never the secret key)."""

    account = models.ForeignKey(
        CrmAccount, on_delete=models.CASCADE, related_name="calls", null=True, blank=True
    )
    account_ref = models.CharField(
        "accountID sent", max_length=64, blank=True, help_text="Kept even when no account matched."
    )
    method = models.CharField(max_length=64, blank=True)
    request_id = models.CharField("request id", max_length=100, blank=True)
    object_count = models.PositiveIntegerField(
        "objects", null=True, blank=True, help_text="How many objects a bulk call carried."
    )
    failed_count = models.PositiveIntegerField("failed objects", default=0)
    http_status = models.PositiveSmallIntegerField("HTTP status", default=200)
    error_code = models.IntegerField(
        "error code", null=True, blank=True, help_text="The API-level error code, when the call failed as a whole."
    )
    fault = models.CharField(
        max_length=40, blank=True, help_text="The fault switch that shaped this answer, if any."
    )
    summary = models.CharField(max_length=255, blank=True)
    request = models.JSONField(null=True, blank=True, help_text="The request body as received.")
    response = models.JSONField(null=True, blank=True, help_text="The answer body (JSON, or the plain text).")
    created_at = models.DateTimeField("time", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "CRM API call"
        verbose_name_plural = "CRM API calls"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "created_at"], name="sandbox_crm_call_account_time")]

    def __str__(self):
        return f"{self.method or '?'} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class CrmFault(models.Model):
    """Switches that make one account misbehave, so that the product's recovery paths can be shown.

    Counters count down by one per call they affect and switch themselves off at zero.
    """

    # The countdown switches in the order they are checked, with what each does to a call.
    COUNTERS = {
        "fail_next_calls": "HTTP 500 without doing the work",
        "throttle_next_calls": "error 107 (per-second limit) in an HTTP 200 body",
        "daily_limit_next_calls": "error 106 (daily limit) in an HTTP 200 body",
        "drop_next_answers": "do the work, then answer HTTP 502 (a lost answer)",
        "hold_answer_of_call": "the call that counts it down to zero does the work, then holds its answer",
    }

    account = models.OneToOneField(CrmAccount, on_delete=models.CASCADE, related_name="fault")
    reject_email_pattern = models.CharField(
        "reject emails matching",
        max_length=255,
        blank=True,
        help_text="A regular expression (case-insensitive). Leads whose emailAddress matches get an object "
        "error with the code and message below. Empty: off.",
    )
    reject_code = models.IntegerField("rejection code", default=205)
    reject_message = models.CharField("rejection message", max_length=255, default="Invalid parameters")
    fail_next_calls = models.PositiveIntegerField(
        "next calls answer HTTP 500", default=0, help_text="Counts down; the work is not done."
    )
    throttle_next_calls = models.PositiveIntegerField(
        "next calls answer 107", default=0, help_text="Per-second limit, inside an HTTP 200 body. Counts down."
    )
    daily_limit_next_calls = models.PositiveIntegerField(
        "next calls answer 106", default=0, help_text="Daily limit, inside an HTTP 200 body. Counts down."
    )
    drop_next_answers = models.PositiveIntegerField(
        "next answers are lost",
        default=0,
        help_text="The work is done, then the answer is replaced by HTTP 502. Counts down.",
    )
    hold_answer_of_call = models.PositiveIntegerField(
        "hold the answer of call N",
        default=0,
        help_text="Counts down by one per call that does its work; the call that brings it to zero holds its "
        f"answer for {HOLD_ANSWER_SECONDS} seconds after the work is done: what a process killed while waiting for "
        "the CRM's answer leaves behind. 0: off.",
    )
    slow_answer_ms = models.PositiveIntegerField(
        "slow answers (ms)", default=0, help_text="Wait this long before answering every call. 0: off."
    )
    updated_at = models.DateTimeField("changed", auto_now=True)

    class Meta:
        verbose_name = "CRM fault switches"
        verbose_name_plural = "CRM fault switches"

    def __str__(self):
        return f"Faults of {self.account}"

    def clean(self):
        try:
            re.compile(self.reject_email_pattern)
        except re.error as exc:
            raise ValidationError({"reject_email_pattern": f"Not a regular expression: {exc}"}) from exc

    @property
    def is_quiet(self):
        return not (self.reject_email_pattern or self.slow_answer_ms or any(getattr(self, c) for c in self.COUNTERS))
