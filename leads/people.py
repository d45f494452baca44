"""The personal data LeadSync holds, person by person and over time: everything about one e-mail
address exported as JSON, or erased (here, and in the CRM when asked); LinkedIn's DELETED leads
erased the same way; and the personal data of leads older than LEADSYNC_RETENTION_DAYS purged.

What is kept of an erased or purged lead is what recognises it without the person: its LinkedIn
id (so it is never pulled again), its CRM id (so its CRM record can still be found), its dates and
state (so counts stay right). What is logged names lead ids and counts, never the person."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Lower
from django.utils import timezone

from connectors.clients import crm_client
from connectors.crm import schema
from connectors.exceptions import ApiError
from leads.models import Lead, LeadAttempt, LeadNotification

logger = logging.getLogger(__name__)

# The columns that hold something about the person.
PERSONAL_FIELDS = ("raw", "answers", "email", "field_outcomes", "submitter_urn", "last_error")


def _cleared(lead_id, marker) -> dict:
    return dict(raw={"id": lead_id, marker: True}, answers={}, email="", field_outcomes=[], submitter_urn=None,
                last_error="", updated_at=timezone.now())


def lead_erase(lead: Lead) -> None:
    """Mark the lead deleted and keep nothing about the person."""
    Lead.objects.filter(pk=lead.pk).update(state=Lead.State.DELETED, **_cleared(lead.linkedin_id, "deleted"))
    # What the CRM said about a push may quote the lead's values (its e-mail, a refused value).
    LeadAttempt.objects.filter(lead_id=lead.pk).update(message="")
    lead.refresh_from_db(fields=["state", "crm_id", *PERSONAL_FIELDS])


def crm_lead_delete(lead: Lead) -> str:
    """Delete the lead's CRM record; returns a note for the operator. A record another live lead
    also points at (the same e-mail submitted twice) stays. ApiError when the CRM refuses."""
    if not lead.crm_id:
        return "The lead was never in the CRM."
    crm = lead.integration.crm_connection
    shared = (Lead.objects.filter(crm_id=lead.crm_id, integration__crm_connection=crm)
              .exclude(pk=lead.pk).exclude(state=Lead.State.DELETED).exists())
    if shared:
        return f"CRM lead {lead.crm_id} was kept: other leads share it."
    [result] = crm_client(crm).delete_leads([lead.crm_id])
    gone = (schema.NO_ROWS_AFFECTED_CODE, schema.RECORD_NOT_FOUND_CODE)
    if not result.success and result.error_code not in gone:
        raise ApiError(f"The CRM did not delete lead {lead.crm_id}: error {result.error_code}: {result.error_message}")
    return ""


def _person(email: str):
    return (Lead.objects.annotate(email_lower=Lower("email")).filter(email_lower=email.strip().lower())
            .select_related("integration__form", "integration__crm_connection").order_by("submitted_at", "pk"))


def person_export(*, email: str) -> dict:
    """Everything LeadSync holds about the person with this e-mail address: each lead with its
    answers as LinkedIn sent them and as read, what reached the CRM, and the notifications about
    it. Never a token or a secret."""
    leads = list(_person(email))
    notifications = LeadNotification.objects.filter(lead_id__in=[lead.linkedin_id for lead in leads])
    return {
        "email": email.strip(),
        "leads": [{
            "linkedin_id": lead.linkedin_id, "integration": str(lead.integration), "form_id": lead.integration.form.linkedin_id,
            "form": lead.integration.form.name, "lead_type": lead.lead_type, "submitted_at": lead.submitted_at,
            "state": lead.state, "crm_id": lead.crm_id, "synced_at": lead.synced_at, "submitter_urn": lead.submitter_urn,
            "answers": lead.answers, "as_linkedin_sent_it": lead.raw, "field_outcomes": lead.field_outcomes,
        } for lead in leads],
        "notifications": [{"lead_id": n.lead_id, "action": n.action, "received_at": n.received_at, "state": n.state}
                          for n in notifications.order_by("received_at")],
    }


def person_erase(*, email: str, crm: bool = False) -> dict:
    """Erase the person with this e-mail address: every lead of theirs keeps nothing about them
    and is never pulled again; with `crm`, their CRM records are deleted first (a CRM that refuses
    raises ApiError and nothing is erased here). Returns what was done, without personal data."""
    leads = list(_person(email))
    notes = [note for note in (crm_lead_delete(lead) for lead in leads) if note] if crm else []
    for lead in leads:
        lead_erase(lead)
    ids = [lead.linkedin_id for lead in leads]
    logger.info("erased a person on request: %d lead(s) %s%s", len(ids), ", ".join(ids),
                " and their CRM records" if crm else "")
    return {"leads_erased": len(ids), "linkedin_ids": ids, "crm_deleted": crm, "notes": notes}


def leads_retention_purge(*, days=None, now=None) -> int:
    """Clear the personal data of the leads submitted more than `days` (LEADSYNC_RETENTION_DAYS)
    ago; their ids, dates and states stay, so counts and reports stay right. No setting: nothing
    is purged. Returns how many leads were purged now."""
    days = settings.LEADSYNC_RETENTION_DAYS if days is None else days
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = Lead.objects.filter(submitted_at__lt=cutoff).exclude(email="", answers={}, field_outcomes=[])
    purged = 0
    for lead_id, linkedin_id in old.values_list("pk", "linkedin_id").iterator(chunk_size=1000):
        purged += Lead.objects.filter(pk=lead_id).update(**_cleared(linkedin_id, "purged"))
        LeadAttempt.objects.filter(lead_id=lead_id).update(message="")
    if purged:
        logger.info("retention: cleared the personal data of %d lead(s) submitted before %s", purged, cutoff.date())
    return purged
