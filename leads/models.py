"""Leads as LeadSync stored them, and the runs that moved them."""

from django.db import models
from django.db.models.functions import Lower
from django.db.models import Q

from leadsync_project.fields import FastJSONField, OutcomesField
from mappings.models import Integration


class Lead(models.Model):
    """One LinkedIn lead form response. Stored (and committed) before it is pushed; unique on the
    LinkedIn response id, so re-pulling never doubles it."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted"
        SKIPPED = "skipped", "Skipped"
        IGNORED = "ignored", "Ignored"

    # No index of its own: lead_integration_state (integration, state) serves every lookup by integration.
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="leads", db_index=False)
    linkedin_id = models.CharField("LinkedIn response ID", max_length=200, unique=True)
    form_version = models.PositiveIntegerField(null=True, blank=True)
    lead_type = models.CharField(max_length=30, blank=True)
    submitted_at = models.DateTimeField(db_index=True)
    test_lead = models.BooleanField(default=False)
    submitter_urn = models.CharField(
        "submitter URN", max_length=200, null=True, blank=True, help_text="Empty for guest leads."
    )
    associated_entity_urn = models.CharField("associated entity", max_length=200, blank=True)
    campaign_urn = models.CharField("campaign URN", max_length=200, blank=True)
    # Looked up lower-cased (lead_email_lower); the admin's search is a substring match no index serves.
    email = models.CharField(max_length=254, blank=True, help_text="The lead's e-mail, for search.")
    raw = FastJSONField(help_text="The lead exactly as LinkedIn sent it.")
    answers = FastJSONField(default=dict, help_text="The normalised answers, hidden fields and consents.")
    field_outcomes = OutcomesField(default=list, blank=True, help_text="What happened to each mapped field.")
    crm_id = models.CharField("CRM lead ID", max_length=50, blank=True, db_index=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times the push was tried.")
    last_error = models.TextField(blank=True, help_text="Why the last push failed.")
    error_code = models.CharField(
        max_length=20, blank=True, db_index=True,
        help_text="The last push's error: the CRM's error code, or lost / unreachable / mapping / contradiction.",
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    create_sent_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When a createLeads carrying this lead was sent whose answer never came: the CRM may have the "
                  "lead, so it is looked for before another create.",
    )
    retries = models.PositiveIntegerField(
        default=0, help_text="Pushes in a row that ended in an error that may pass (retried by themselves)."
    )
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="A scheduled sync tries this pending lead again from then on."
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    # An ignored lead is set aside by staff (leads.review): never pushed, retried or counted as
    # waiting, until it is un-ignored (back to failed).
    ignored_reason = models.TextField(blank=True, help_text="Why staff set this lead aside (it is never pushed).")
    ignored_by = models.CharField(
        max_length=150, blank=True, help_text="The admin user who ignored it, or “cli” for the command line.")
    ignored_at = models.DateTimeField(null=True, blank=True, help_text="When it was ignored.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["integration", "state"], name="lead_integration_state"),
            # The push finds the CRM id LeadSync already has for an e-mail (case aside) on a CRM
            # account: without it, every batch read all synced leads.
            models.Index(Lower("email"), name="lead_email_lower"),
        ]
        # Viewing a lead shows one person; an export carries thousands off the server, so it is
        # granted on its own.
        permissions = [("export_lead", "Can export leads (personal data) as CSV")]

    def __str__(self):
        return self.email or self.linkedin_id


class LeadAttempt(models.Model):
    """One push of one lead: what was sent for, what the CRM answered, what became of the lead. The
    lead's page lists them; they carry the CRM's words, never the lead's answers."""

    class Outcome(models.TextChoices):
        SYNCED = "synced", "Synced"
        SYNCED_WITHOUT = "partial", "Synced without refused fields"
        RETRY = "retry", "Will be retried"
        FAILED = "failed", "Failed: waits for staff"
        INTERRUPTED = "interrupted", "Interrupted"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="push_attempts")
    run = models.ForeignKey("SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="attempts")
    at = models.DateTimeField(db_index=True)
    number = models.PositiveIntegerField(help_text="The lead's push number.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_code = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)
    refused_fields = models.JSONField(default=list, blank=True, help_text="CRM fields left out after a refusal.")
    crm_id = models.CharField("CRM lead ID", max_length=50, blank=True)

    class Meta:
        ordering = ["lead", "at", "pk"]

    def __str__(self):
        return f"push {self.number} of {self.lead_id}: {self.get_outcome_display()}"


class LeadEvent(models.Model):
    """Something staff (or LeadSync on staff's behalf) did to one lead: an edit of its answers, a
    retry, an erasure, a note. Written by leads.events only, never by the pull or the push (what
    they did is the lead's created_at and its LeadAttempts). An edit's detail keeps the values
    before and after, which are personal data: leads.people clears them with the lead's."""

    class Kind(models.TextChoices):
        EDITED = "edited", "Answers edited"
        RETRIED = "retried", "Retried"
        IGNORED = "ignored", "Ignored"
        UNIGNORED = "unignored", "No longer ignored"
        ERASED = "erased", "Personal data erased"
        NOTE = "note", "Note"

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        CLI = "cli", "Command line"
        LINKEDIN = "linkedin", "LinkedIn notification"
        SCHEDULE = "schedule", "Schedule"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.CharField(
        max_length=150, help_text="The admin user who did it, “cli” for the command line, “linkedin” or "
                                  "“retention” for what LeadSync did by itself.")
    via = models.CharField("done through", max_length=10, choices=Via.choices)
    detail = models.JSONField(
        default=dict, blank=True,
        help_text="What changed: for an edit, the answer keys with their values before and after (cleared when "
                  "the person's data is erased); for a retry, the run.")

    class Meta:
        verbose_name = "lead event"
        ordering = ["lead", "at", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.actor} ({self.lead_id})"


class SyncRun(models.Model):
    """One attempt to pull and push an integration's leads: what triggered it, the window, progress
    and counts, and why it failed when it did."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        BACKFILL = "backfill", "Backfill"
        WEBHOOK = "webhook", "Webhook"
        RETRY = "retry", "Retry of failed leads"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED, db_index=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0, help_text="Leads processed so far.")
    progress_total = models.PositiveIntegerField(null=True, blank=True, help_text="Leads expected, when known.")
    pulled = models.PositiveIntegerField(default=0, help_text="Leads read from LinkedIn.")
    new = models.PositiveIntegerField(default=0, help_text="Leads stored for the first time.")
    created = models.PositiveIntegerField(default=0, help_text="Leads created in the CRM.")
    updated = models.PositiveIntegerField(default=0, help_text="Leads updated in the CRM.")
    failed = models.PositiveIntegerField(default=0, help_text="Leads the CRM refused.")
    skipped = models.PositiveIntegerField(default=0, help_text="Leads not pushed (test leads, other forms).")
    error = models.TextField(blank=True, help_text="Why the run failed.")
    task_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sync run"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__isnull=True) | Q(window_end__isnull=True) | Q(window_start__lte=models.F("window_end")),
                name="syncrun_window_ordered",
            )
        ]

    def __str__(self):
        return f"{self.integration} {self.get_trigger_display().lower()} run {self.pk}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class LeadNotification(models.Model):
    """One LinkedIn lead notification (webhook) as it arrived, and what became of it. Unique on
    the lead and the action, so a notification LinkedIn delivers twice is processed once."""

    class Action(models.TextChoices):
        CREATED = "CREATED", "Created"
        DELETED = "DELETED", "Deleted"

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    lead_urn = models.CharField("lead URN", max_length=250, help_text="urn:li:leadGenFormResponse:…")
    lead_id = models.CharField("LinkedIn response ID", max_length=200, help_text="The id part of the lead URN.")
    action = models.CharField(max_length=10, choices=Action.choices, help_text="What happened to the lead on LinkedIn.")
    form_id = models.CharField("LinkedIn form ID", max_length=40, blank=True, db_index=True)
    lead_type = models.CharField(max_length=30, blank=True)
    owner_urn = models.CharField(
        "owner URN", max_length=100, blank=True, help_text="The organization or ad account that owns the form."
    )
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="When it happened, according to LinkedIn.")
    payload = models.JSONField(help_text="The notification exactly as LinkedIn sent it.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.TextField(
        blank=True, help_text="Why it failed or was ignored, or what is left for the next sync to do."
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "lead notification"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["lead_id", "action"], name="one_notification_per_lead_action")
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.lead_id}"


class PersonRequest(models.Model):
    """One export or erasure of a person's data (asked in the admin or from the CLI, or a lead
    LinkedIn reported deleted), kept as proof that it was done, without the person: counts, who
    asked, and a keyed hash of the e-mail address (leads.people.email_digest) so that requests
    about one person can be matched without storing the address. Written by leads.people only;
    never changed afterwards."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        ERASE = "erase", "Erase"
        LINKEDIN_DELETED = "linkedin_deleted", "LinkedIn deleted"

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        CLI = "cli", "Command line"
        LINKEDIN = "linkedin", "LinkedIn notification"

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    via = models.CharField("asked through", max_length=10, choices=Via.choices)
    requested_by = models.CharField(
        max_length=150, help_text="The admin user who asked, “cli” for the command line, “linkedin” for a deletion "
                                  "LinkedIn reported.")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    email_digest = models.CharField(
        "e-mail digest", max_length=64, blank=True, db_index=True,
        help_text="A keyed hash (HMAC-SHA256 with the site's secret key) of the lower-cased address, never the address: the "
                  "same person gives the same digest. Empty when LeadSync no longer held the address.")
    leads = models.PositiveIntegerField(default=0, help_text="Leads exported or erased.")
    notifications = models.PositiveIntegerField(
        default=0, help_text="LinkedIn lead notifications exported, or acted on (for a LinkedIn deletion).")
    crm_requested = models.BooleanField(
        "CRM deletion asked", default=False, help_text="Whether the person's leads were to be deleted in the CRM too.")
    crm_deleted = models.PositiveIntegerField("CRM leads deleted", default=0)
    crm_kept = models.PositiveIntegerField(
        "CRM leads kept", default=0, help_text="Leads with no CRM record, or whose record another live lead shares.")
    crm_failed = models.PositiveIntegerField("CRM deletions failed", default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.DONE, db_index=True)
    error = models.TextField(blank=True, help_text="Why it failed (the CRM's answer; never the person's data).")

    class Meta:
        verbose_name = "person data request"
        ordering = ["-requested_at", "-pk"]
        # Viewing the audit shows no one; exporting or erasing a person is granted on its own.
        permissions = [
            ("export_person", "Can export everything stored about one person"),
            ("erase_person", "Can erase one person's data (here and in the CRM)"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.pk} ({self.requested_at:%Y-%m-%d %H:%M})" if self.requested_at \
            else self.get_kind_display()


class WebhookChallenge(models.Model):
    """When LeadSync last answered LinkedIn's webhook validation (LinkedIn re-validates every 2 hours):
    one row, in the database so that every web process tells the dashboard the same."""

    answered_at = models.DateTimeField(help_text="When the last challenge was answered.")
    answered = models.PositiveBigIntegerField(default=0, help_text="Challenges answered since the row was made.")

    class Meta:
        verbose_name = "webhook challenge"

    def __str__(self):
        return f"webhook challenge answered at {self.answered_at:%Y-%m-%d %H:%M}"
