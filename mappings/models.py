"""What an admin configures: an integration (one form into one CRM account, on a schedule) and its
field mappings (each form source to one CRM field, with a transform)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.models import CrmConnection, LeadForm


def on_linkedin_delete_default() -> str:
    """A new integration's reaction to LinkedIn's DELETED notifications: LEADSYNC_DELETE_CRM_LEADS,
    read when the integration is created (changing the setting later changes no integration)."""
    return Integration.OnLinkedInDelete.CRM if settings.LEADSYNC_DELETE_CRM_LEADS else Integration.OnLinkedInDelete.LOCAL


class Integration(models.Model):
    """A lead form synced into a CRM account. Its watermark is the `submittedAt` up to which every
    lead is committed locally; pulls start a little before it (the overlap) so nothing is missed."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        TORN_DOWN = "torn_down", "Torn down"

    class OnLinkedInDelete(models.TextChoices):
        LOCAL = "local", "Erase it in LeadSync only (the CRM keeps its record)"
        CRM = "crm", "Erase it in LeadSync and delete it in the CRM"

    form = models.ForeignKey(LeadForm, on_delete=models.PROTECT, related_name="integrations")
    crm_connection = models.ForeignKey(
        CrmConnection, on_delete=models.PROTECT, related_name="integrations", verbose_name="CRM connection"
    )
    name = models.CharField(max_length=255, blank=True, help_text="Shown in lists; defaults to the form's name.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE, db_index=True)
    lead_types = models.JSONField(
        default=list, blank=True, help_text="Which lead types to pull; empty means all the form receives."
    )
    include_test_leads = models.BooleanField(
        default=False, help_text="Also push LinkedIn test leads to the CRM (off in production)."
    )
    sync_every_minutes = models.PositiveIntegerField(
        default=15, help_text="How often the scheduled pull runs."
    )
    on_linkedin_delete = models.CharField(
        "when LinkedIn deletes a lead", max_length=10, choices=OnLinkedInDelete.choices,
        default=on_linkedin_delete_default,
        help_text="What happens when LinkedIn reports one of this form's leads deleted (the member or LinkedIn "
                  "removed it). LeadSync always erases its own copy of the person's answers; choose whether the "
                  "lead is deleted in the CRM too (a CRM record another live lead still uses is kept). New "
                  "integrations start from the LEADSYNC_DELETE_CRM_LEADS setting.",
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The beat schedule entry that runs this integration.",
    )
    watermark = models.DateTimeField(
        null=True, blank=True, help_text="Every lead submitted before this moment is stored locally."
    )
    mapping_review = models.JSONField(
        default=dict, blank=True,
        help_text="Set when a new form version changed the form's sources: the version, the sources it added "
                  "(given mapping rows at once) and those it no longer has. Empty once an admin reviewed the mapping.",
    )
    reconciled_at = models.DateTimeField(
        null=True, blank=True, help_text="When LinkedIn's count of the form's leads was last compared with what is stored.")
    reconcile_result = models.JSONField(
        default=dict, blank=True,
        help_text="The last reconciliation: the window, LinkedIn's count, what was stored before and after, and "
                  "whether the window was pulled again.")
    webhook_subscriptions = models.JSONField(
        default=list, blank=True, help_text="Ids of the LinkedIn lead notification subscriptions for this form."
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A sync holds the integration until then (renewed as it runs)."
    )
    lock_token = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    torn_down_at = models.DateTimeField(null=True, blank=True)
    recreated_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last brought back after a teardown (LGF-108)."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["form"], condition=~Q(state="torn_down"), name="one_live_integration_per_form"
            )
        ]

    def __str__(self):
        return self.name or f"integration {self.pk}"

    @property
    def mapping_needs_review(self) -> bool:
        return bool(self.mapping_review)

    def save(self, *args, **kwargs):
        # Stored, not derived, so lists and filters never need the form row to label an integration.
        if not self.name:
            self.name = str(self.form)
        super().save(*args, **kwargs)


class FieldMapping(models.Model):
    """One form source (question, hidden field, consent or lead metadata) to one CRM field."""

    class SourceKind(models.TextChoices):
        QUESTION = "question", "Question"
        HIDDEN = "hidden", "Hidden field"
        CONSENT = "consent", "Consent"
        METADATA = "metadata", "Lead metadata"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="mappings")
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices)
    source_key = models.CharField(
        max_length=200, help_text="Question id, hidden field name, consent id or metadata key."
    )
    source_label = models.CharField(max_length=500, blank=True, help_text="What the form calls it.")
    crm_field = models.CharField(
        "CRM field", max_length=200, blank=True, help_text="The CRM field's system name; empty = not synced."
    )
    transform = models.CharField(max_length=30, default="none", help_text="How the value is changed on the way.")
    transform_option = models.CharField(
        max_length=255, blank=True,
        help_text="What the transform needs, for the transforms that take something: the constant to send, the "
                  "separator to join options with, the default region of phone numbers without + (e.g. US), or "
                  "a strftime date pattern (e.g. %d.%m.%Y). Empty for the others.",
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "field mapping"
        ordering = ["integration", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "source_kind", "source_key"], name="one_mapping_per_source"
            )
        ]

    def __str__(self):
        return f"{self.source_label or self.source_key} → {self.crm_field or '(not synced)'}"


class IntegrationEvent(models.Model):
    """One thing done to an integration, by whom and from where: the audit trail its page shows.
    Written by mappings.audit.record from the services the admin and the CLI share, so both leave
    the same trail. It names sources and CRM fields, never a credential or anything a lead said."""

    class Kind(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        MAPPING_CHANGED = "mapping_changed", "Mapping changed"
        MAPPING_IMPORTED = "mapping_imported", "Mapping imported"
        MAPPING_AUTO = "mapping_auto", "Mapping completed for a new form version"
        MAPPING_REVIEWED = "mapping_reviewed", "Mapping marked reviewed"
        SETTINGS_CHANGED = "settings_changed", "Settings changed"
        SCHEDULE_CHANGED = "schedule_changed", "Schedule changed"
        PAUSED = "paused", "Paused"
        RESUMED = "resumed", "Resumed"
        TORN_DOWN = "torn_down", "Torn down"
        RECREATED = "recreated", "Recreated"
        SYNC_STARTED = "sync_started", "Sync started by hand"
        RECONCILED = "reconciled", "Reconciled by hand"

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        CLI = "cli", "Command line"
        SYSTEM = "system", "LeadSync itself"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("when", default=timezone.now, db_index=True)
    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    actor = models.CharField(
        "by", max_length=150, help_text="The admin user's name, \"cli\" for the command line, \"system\" for LeadSync itself.")
    via = models.CharField(max_length=10, choices=Via.choices, help_text="Where it was done.")
    summary = models.TextField(help_text="What was done, in a sentence.")
    detail = models.JSONField(
        default=dict, blank=True,
        help_text="What changed (for a mapping: each row's source with its old and new CRM field, transform, option "
                  "and whether it is synced). Never a credential or a lead's data.")

    class Meta:
        verbose_name = "integration event"
        verbose_name_plural = "integration audit trail"
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["integration", "-at"], name="integrationevent_trail")]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.actor}"
