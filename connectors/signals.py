"""What connectors tell the layers above without knowing them (they connect in their AppConfig)."""

from django.dispatch import Signal

# A version of a lead form LeadSync had not stored was stored (by discovery, or because a lead
# named it). Sent with sender=LeadForm and `form`, `version` (an int) after the row is saved.
form_version_stored = Signal()
