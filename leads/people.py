"""The personal data LeadSync holds, person by person and over time: everything about one e-mail
address exported as JSON, or erased (here, and in the CRM when asked); LinkedIn's DELETED leads
erased the same way (in the CRM too when their integration says so); and the personal data of
leads older than LEADSYNC_RETENTION_DAYS purged.

What is kept of an erased or purged lead is what recognises it without the person: its LinkedIn
id (so it is never pulled again), its CRM id (so its CRM record can still be found), its dates and
state (so counts stay right). What is logged names lead ids and counts, never the person.

Every export and erasure, whoever asked (the admin, the CLI, LinkedIn), leaves a PersonRequest:
counts and a keyed hash of the address, never the address, so an operator can show that a request
was honoured, and match requests about one person, without keeping what was erased."""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from connectors.clients import crm_client
from connectors.crm import schema
from connectors.exceptions import ApiError
from leads import events
from leads.models import Lead, LeadAttempt, LeadEvent, LeadNotification, PersonRequest
from mappings.models import Integration

logger = logging.getLogger(__name__)

# The columns that hold something about the person.
# ignored_reason is staff's words about the lead, which may name the person.
PERSONAL_FIELDS = ("raw", "answers", "email", "field_outcomes", "submitter_urn", "last_error", "ignored_reason")
# Keys the e-mail digest apart from every other use of SECRET_KEY.
DIGEST_SALT = "leadsync.people.email_digest"


class PersonEraseRefused(ApiError):
    """The CRM did not delete every CRM record of the person: nothing was erased here (so that the
    same request can find the person again); the records it did delete stay deleted."""


@dataclass(frozen=True)
class CrmDeletion:
    """What became of one lead's CRM record: `deleted`, or kept with `note` saying why."""

    deleted: bool
    note: str = ""


def email_digest(email: str) -> str:
    """A keyed hash of the address as LeadSync matches it (trimmed, lower-cased): HMAC-SHA256 keyed
    with SECRET_KEY, so it says nothing to whoever lacks the key and one person always gives the
    same digest (while SECRET_KEY stays the same). "" for no address."""
    normal = email.strip().lower()
    return salted_hmac(DIGEST_SALT, normal, algorithm="sha256").hexdigest() if normal else ""


def _without(text: str, email: str) -> str:
    """`text` with the address taken out, whatever a CRM's message echoes."""
    return re.sub(re.escape(email.strip()), "[e-mail]", text, flags=re.IGNORECASE) if email.strip() else text


def person_request_record(*, kind: str, via: str, requested_by: str, email: str, error: str = "", **counts) -> PersonRequest:
    """The audit row of one export or erasure: counts and the digest of the address, never the
    address (an error is stripped of it too)."""
    return PersonRequest.objects.create(kind=kind, via=via, requested_by=requested_by[:150],
                                        email_digest=email_digest(email), error=_without(error, email), **counts)


def _cleared(lead_id, marker) -> dict:
    return dict(raw={"id": lead_id, marker: True}, answers={}, email="", field_outcomes=[], submitter_urn=None,
                last_error="", ignored_reason="", updated_at=timezone.now())


def lead_erase(lead: Lead, *, actor: str = "linkedin", via: str = LeadEvent.Via.LINKEDIN) -> None:
    """Mark the lead deleted and keep nothing about the person (the values its history's edits
    kept included); its history says who erased it (`actor`, `via`: LinkedIn's deletion unless told)."""
    Lead.objects.filter(pk=lead.pk).update(state=Lead.State.DELETED, **_cleared(lead.linkedin_id, "deleted"))
    # What the CRM said about a push may quote the lead's values (its e-mail, a refused value).
    LeadAttempt.objects.filter(lead_id=lead.pk).update(message="")
    events.events_scrub(lead_ids=[lead.pk])
    events.record(lead, LeadEvent.Kind.ERASED, actor, via)
    lead.refresh_from_db(fields=["state", "crm_id", *PERSONAL_FIELDS])


def crm_lead_delete(lead: Lead) -> CrmDeletion:
    """Delete the lead's CRM record. A record another live lead also points at (the same e-mail
    submitted twice) stays, and so does nothing for a lead never pushed. A record the CRM no
    longer has counts as deleted. ApiError when the CRM refuses or cannot be reached."""
    if not lead.crm_id:
        return CrmDeletion(False, "The lead was never in the CRM.")
    crm = lead.integration.crm_connection
    shared = (Lead.objects.filter(crm_id=lead.crm_id, integration__crm_connection=crm)
              .exclude(pk=lead.pk).exclude(state=Lead.State.DELETED).exists())
    if shared:
        return CrmDeletion(False, f"CRM lead {lead.crm_id} was kept: other leads share it.")
    [result] = crm_client(crm).delete_leads([lead.crm_id])
    gone = (schema.NO_ROWS_AFFECTED_CODE, schema.RECORD_NOT_FOUND_CODE)
    if not result.success and result.error_code not in gone:
        raise ApiError(f"The CRM did not delete lead {lead.crm_id}: error {result.error_code}: {result.error_message}")
    return CrmDeletion(True)


def linkedin_deletion_finish(*, lead: Lead, email: str) -> str:
    """The end of a lead LinkedIn reported deleted, once lead_erase scrubbed it here: its CRM
    record deleted when the lead's own integration is set to (`on_linkedin_delete` "crm"), and
    the audit row (`email` is the address the lead had, read before the scrub). Returns a note for
    the operator; ApiError, recorded as a failed request, when the CRM refuses."""
    crm = lead.integration.on_linkedin_delete == Integration.OnLinkedInDelete.CRM
    audit = dict(kind=PersonRequest.Kind.LINKEDIN_DELETED, via=PersonRequest.Via.LINKEDIN, requested_by="linkedin",
                 email=email, leads=1, notifications=1, crm_requested=crm)
    if not crm:
        person_request_record(**audit)
        return ""
    try:
        result = crm_lead_delete(lead)
    except ApiError as exc:
        person_request_record(**audit, crm_failed=1, outcome=PersonRequest.Outcome.FAILED, error=str(exc))
        raise
    person_request_record(**audit, crm_deleted=int(result.deleted), crm_kept=int(not result.deleted))
    return result.note


def _person(email: str):
    return (Lead.objects.annotate(email_lower=Lower("email")).filter(email_lower=email.strip().lower())
            .select_related("integration__form", "integration__crm_connection").order_by("submitted_at", "pk"))


def person_summary(*, email: str) -> dict:
    """What an erasure of this address would touch, in counts (what the admin's confirmation
    shows): leads, those with a CRM record, the integrations they came through, notifications."""
    leads = list(_person(email).values_list("linkedin_id", "crm_id", "integration_id"))
    return {"leads": len(leads), "in_crm": sum(1 for _, crm_id, _ in leads if crm_id),
            "integrations": len({integration for _, _, integration in leads}),
            "notifications": LeadNotification.objects.filter(lead_id__in=[i for i, _, _ in leads]).count()}


def person_export(*, email: str, via: str, requested_by: str) -> dict:
    """Everything LeadSync holds about the person with this e-mail address: each lead with its
    answers as LinkedIn sent them and as read, what reached the CRM, and the notifications about
    it. Never a token or a secret. Recorded as a PersonRequest (`via`, `requested_by`: who asked)."""
    leads = list(_person(email).prefetch_related("push_attempts", "events"))
    notifications = list(LeadNotification.objects.filter(lead_id__in=[lead.linkedin_id for lead in leads])
                         .order_by("received_at"))
    document = {
        "email": email.strip(),
        "leads": [{
            "linkedin_id": lead.linkedin_id, "integration": str(lead.integration), "form_id": lead.integration.form.linkedin_id,
            "form": lead.integration.form.name, "lead_type": lead.lead_type, "submitted_at": lead.submitted_at,
            "state": lead.state, "crm_id": lead.crm_id, "synced_at": lead.synced_at, "submitter_urn": lead.submitter_urn,
            "answers": lead.answers, "as_linkedin_sent_it": lead.raw, "field_outcomes": lead.field_outcomes,
            "last_error": lead.last_error, "ignored_reason": lead.ignored_reason,
            "pushes": [{"at": a.at, "outcome": a.outcome, "error_code": a.error_code, "crm_said": a.message,
                        "refused_fields": a.refused_fields} for a in lead.push_attempts.all()],
            # What staff did to the lead; an edit's values before and after are the person's too.
            "history": [{"at": e.at, "kind": e.kind, "by": e.actor, "via": e.via, "detail": e.detail}
                        for e in lead.events.all()],
        } for lead in leads],
        "notifications": [{"lead_id": n.lead_id, "action": n.action, "received_at": n.received_at, "state": n.state}
                          for n in notifications],
    }
    person_request_record(kind=PersonRequest.Kind.EXPORT, via=via, requested_by=requested_by, email=email,
                          leads=len(leads), notifications=len(notifications))
    logger.info("exported a person's data on request (%s, %s): %d lead(s)", via, requested_by, len(leads))
    return document


def person_erase(*, email: str, via: str, requested_by: str, crm: bool = False) -> dict:
    """Erase the person with this e-mail address: every lead of theirs keeps nothing about them
    and is never pulled again; with `crm`, their CRM records are deleted first. When the CRM does
    not delete every one, PersonEraseRefused is raised and nothing is erased here (so the same
    request, run again, still finds the person; the records already deleted stay deleted).
    Recorded as a PersonRequest either way. Returns what was done, without personal data."""
    leads = list(_person(email))
    deleted, notes, failures = 0, [], []
    if crm:
        for lead in leads:
            try:
                result = crm_lead_delete(lead)
            except ApiError as exc:
                failures.append(str(exc))
                continue
            deleted += result.deleted
            if result.note:
                notes.append(result.note)
    audit = dict(kind=PersonRequest.Kind.ERASE, via=via, requested_by=requested_by, email=email, crm_requested=crm,
                 crm_deleted=deleted, crm_kept=len(notes), crm_failed=len(failures))
    if failures:
        message = (f"The CRM did not delete {len(failures)} of the person's {len(leads)} lead(s), so nothing was "
                   f"erased in LeadSync ({deleted} CRM record(s) were deleted and stay so); run the erasure again. "
                   + " ".join(failures))
        person_request_record(**audit, outcome=PersonRequest.Outcome.FAILED, error=message)
        raise PersonEraseRefused(_without(message, email))
    for lead in leads:
        lead_erase(lead, actor=requested_by, via=via)
    ids = [lead.linkedin_id for lead in leads]
    person_request_record(**audit, leads=len(ids))
    logger.info("erased a person on request (%s, %s): %d lead(s) %s%s", via, requested_by, len(ids), ", ".join(ids),
                " and their CRM records" if crm else "")
    return {"leads_erased": len(ids), "linkedin_ids": ids, "crm_deleted": crm, "crm_records_deleted": deleted,
            "notes": notes}


def leads_retention_purge(*, days=None, now=None) -> int:
    """Clear the personal data of the leads submitted more than `days` (LEADSYNC_RETENTION_DAYS)
    ago; their ids, dates and states stay, so counts and reports stay right. No setting: nothing
    is purged. Returns how many leads were purged now."""
    days = settings.LEADSYNC_RETENTION_DAYS if days is None else days
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = Lead.objects.filter(submitted_at__lt=cutoff).exclude(email="", answers={}, field_outcomes=[])
    purged, done = 0, []
    for lead_id, linkedin_id in old.values_list("pk", "linkedin_id").iterator(chunk_size=1000):
        purged += Lead.objects.filter(pk=lead_id).update(**_cleared(linkedin_id, "purged"))
        LeadAttempt.objects.filter(lead_id=lead_id).update(message="")
        done.append(lead_id)
        if len(done) == 1000:
            _purged_history(done)
            done = []
    _purged_history(done)
    if purged:
        logger.info("retention: cleared the personal data of %d lead(s) submitted before %s", purged, cutoff.date())
    return purged


def _purged_history(lead_ids):
    """The purged leads' history: edits' values cleared, and one "erased" event each (one INSERT)."""
    if lead_ids:
        events.events_scrub(lead_ids=lead_ids)
        events.record(lead_ids, LeadEvent.Kind.ERASED, "retention", LeadEvent.Via.SCHEDULE,
                      detail={"reason": "retention"})
