"""LinkedIn lead notifications (webhooks): answering the challenge, checking signatures, storing
each notification once, and acting on it.

The web view only checks, stores and queues (LinkedIn wants an answer within 3 seconds); the
work happens in `notification_process`, run by a Celery task. What it relies on:
- a notification is unique on (lead id, action), so one LinkedIn delivers twice is acted on once,
  and acting on it twice by accident is harmless too: leads are unique on the LinkedIn response
  id and only pending leads are pushed, under the integration's lock;
- a webhook is a shortcut, never the only path: a lead whose notification was lost, ignored or
  left pending behind a running sync is still picked up by the scheduled pull;
- a DELETED lead loses its personal data in LeadSync at once and, when its integration is set to
  (`Integration.on_linkedin_delete`, "crm"), its CRM record too.
"""

import hashlib
import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from connectors.exceptions import ApiError, BadPayload, NotFound
from connectors.exceptions import NeedsReauthorization
from connectors.linkedin.times import from_epoch_ms
from connectors.payloads import loads
from connectors.linkedin.urns import LEAD_RESPONSE, owner_urn, parse_urn, parse_versioned_form_urn
from connectors.tokens import linkedin_client
from leads.models import Lead, LeadNotification, SyncRun, WebhookChallenge
from leads.people import lead_erase, linkedin_deletion_finish
from leads.pipeline.locks import SyncBusy, integration_locked
from leads.pipeline.pull import FormVersions, leads_store
from leads.pipeline.push import leads_push
from leads.pipeline.runs import sync_run
from mappings.models import Integration

logger = logging.getLogger(__name__)

# LinkedIn's lead notification signature: `X-LI-Signature`, an HMAC-SHA256 keyed with the app's
# client secret, documented with this prefix.
SIGNATURE_PREFIX = "hmacsha256="
# Field lengths of LeadNotification: a longer value is not a LinkedIn notification.
MAX_LENGTHS = {"lead_urn": 250, "lead_id": 200, "form_id": 40, "lead_type": 30, "owner_urn": 100}


class InvalidNotification(ValueError):
    """The body is not a lead notification; the message says what is wrong (safe to return)."""


class NotificationDeferred(Exception):
    """A DELETED lead may be in a batch that a running sync holds in memory: its personal data is
    already gone, but the deletion must be applied again once the sync ends. Retry later."""


# --- what the view needs ---------------------------------------------------------------------------

def _hmac_hex(message: bytes) -> str:
    key = settings.LINKEDIN_CLIENT_SECRET.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def challenge_answered(*, now=None) -> None:
    """Note when LinkedIn's validation was last answered: one database row (WebhookChallenge), so
    that every web process and the dashboard agree."""
    now = now or timezone.now()
    if WebhookChallenge.objects.filter(pk=1).update(answered_at=now, answered=F("answered") + 1):
        return
    try:
        with transaction.atomic():
            WebhookChallenge.objects.create(pk=1, answered_at=now, answered=1)
    except IntegrityError:  # another process made it first
        WebhookChallenge.objects.filter(pk=1).update(answered_at=now, answered=F("answered") + 1)


def last_challenge_answered():
    return WebhookChallenge.objects.filter(pk=1).values_list("answered_at", flat=True).first()


def challenge_response(code: str) -> str:
    """LinkedIn's webhook validation: the hex HMAC-SHA256 of `challengeCode`, keyed with the app's
    client secret. LinkedIn re-validates every 2 hours and blocks the URL after 3 failures."""
    return _hmac_hex(code.encode("utf-8"))


def signature_valid(raw_body: bytes, header: str | None) -> bool:
    """Whether `X-LI-Signature` signs `raw_body` with the client secret.

    LinkedIn's wording admits two readings, hex(HMAC("hmacsha256=" + body)) and
    "hmacsha256=" + hex(HMAC(body)), and the sandbox sends plain hex(HMAC(body)): any of the three
    is accepted. Every candidate is compared in constant time, so timing tells nothing about
    which one came close. Without a client secret nothing is valid."""
    if not header or not settings.LINKEDIN_CLIENT_SECRET:
        return False
    digest = _hmac_hex(raw_body)
    candidates = (
        _hmac_hex(SIGNATURE_PREFIX.encode("ascii") + raw_body),
        SIGNATURE_PREFIX + digest,
        digest,
    )
    given = header.strip().lower().encode("utf-8")
    matches = [hmac.compare_digest(given, candidate.encode("ascii")) for candidate in candidates]
    return any(matches)


def _notification_fields(raw_body: bytes) -> dict:
    """The LeadNotification fields of a body, or InvalidNotification saying what is wrong."""
    try:
        payload = loads(raw_body, what="The body")
    except BadPayload as exc:
        raise InvalidNotification(f"{exc.message}.") from None
    if not isinstance(payload, dict):
        raise InvalidNotification("The body is not a JSON object.")
    if payload.get("type") != "LEAD_ACTION":
        raise InvalidNotification(f"type must be LEAD_ACTION, got {payload.get('type')!r:.40}.")
    action = payload.get("leadAction")
    if action not in LeadNotification.Action.values:
        raise InvalidNotification(f"leadAction must be CREATED or DELETED, got {action!r:.40}.")
    lead_urn = payload.get("leadGenFormResponse")
    try:
        kind, lead_id = parse_urn(lead_urn)
        form_id, _version = parse_versioned_form_urn(payload.get("leadGenForm"))
        owner = owner_urn(payload.get("owner"))
    except BadPayload as exc:
        raise InvalidNotification(f"{exc.message}.") from None
    if kind != LEAD_RESPONSE:
        raise InvalidNotification(f"leadGenFormResponse must be a {LEAD_RESPONSE} URN, got {lead_urn!r:.80}.")
    lead_type = payload.get("leadType")
    if not isinstance(lead_type, str) or not lead_type:
        raise InvalidNotification("leadType is missing.")
    occurred = payload.get("occurredAt")
    if occurred is not None and (isinstance(occurred, bool) or not isinstance(occurred, int)):
        raise InvalidNotification("occurredAt must be epoch milliseconds.")
    occurred_at = from_epoch_ms(occurred) if occurred is not None else None
    if occurred is not None and occurred_at is None:
        raise InvalidNotification("occurredAt is out of range.")
    fields = {"lead_urn": lead_urn.strip(), "lead_id": lead_id, "action": action, "form_id": form_id,
              "lead_type": lead_type, "owner_urn": owner or "", "occurred_at": occurred_at, "payload": payload}
    for name, limit in MAX_LENGTHS.items():
        if len(fields[name]) > limit:
            raise InvalidNotification(f"{name} is longer than {limit} characters.")
    return fields


def notification_receive(raw_body: bytes) -> tuple[LeadNotification, bool]:
    """Store a (signature-checked) notification unless it is already known. Returns the row and
    whether it is new; a duplicate returns the existing row untouched. A body that is not a lead
    notification raises InvalidNotification and stores nothing."""
    fields = _notification_fields(raw_body)
    notification, created = LeadNotification.objects.get_or_create(
        lead_id=fields.pop("lead_id"), action=fields.pop("action"), defaults=fields
    )
    logger.info("LinkedIn lead notification %s %s of form %s: %s", notification.action, notification.lead_id,
                notification.form_id, "new" if created else "duplicate")
    return notification, created


# --- acting on a notification -------------------------------------------------------------------------

# A notification younger than this is left to the task queued when it arrived.
SWEEP_AFTER = timedelta(minutes=1)
SWEEP_BATCH = 500


def notifications_sweep(*, older_than: timedelta = SWEEP_AFTER, limit: int = SWEEP_BATCH) -> dict:
    """Process the stored notifications still waiting (CREATED and DELETED alike), oldest first:
    those whose task was never queued (the broker was down), was lost, or was deferred behind a
    running sync. Safe to run at any time and in parallel with the queued tasks (processing is
    idempotent). Returns how many ended in each state."""
    cutoff = timezone.now() - older_than
    waiting = list(LeadNotification.objects.filter(state=LeadNotification.State.RECEIVED, received_at__lte=cutoff)
                   .order_by("received_at", "pk")[:limit])
    counts = {}
    for notification in waiting:
        try:
            notification_process(notification=notification, final_attempt=False)
            outcome = notification.state
        except NotificationDeferred:
            outcome = "deferred"
        except Exception:  # noqa: BLE001 - one bad notification never stops the sweep
            logger.exception("lead notification %s could not be processed by the sweeper", notification.pk)
            outcome = LeadNotification.State.FAILED
        counts[outcome] = counts.get(outcome, 0) + 1
    if waiting:
        logger.info("swept %d waiting lead notification(s): %s", len(waiting), counts)
    return counts


def notification_process(*, notification: LeadNotification, final_attempt: bool = True) -> LeadNotification:
    """Act on a stored notification and record the outcome on it (state, error, processed_at).

    CREATED: fetch the lead for the active integration of its form, store it, and push it unless a
    sync holds the integration (then the lead stays pending for that sync or the next one).
    DELETED: scrub the lead's personal data, mark it deleted and, when the lead's integration says
    so (`on_linkedin_delete` "crm"), delete its CRM record unless another live lead shares it.

    A notification already processed or ignored is left alone. LinkedIn and CRM failures end in
    state failed with their (token-free) message. When a DELETED lead may be inside a running
    sync's push, NotificationDeferred is raised for a later retry, or with `final_attempt` the
    notification fails and says so."""
    if notification.state in (LeadNotification.State.PROCESSED, LeadNotification.State.IGNORED):
        return notification
    try:
        if notification.action == LeadNotification.Action.CREATED:
            state, note = _created(notification)
        else:
            state, note = _deleted(notification)
    except NotificationDeferred as exc:
        if not final_attempt:
            _record(notification, LeadNotification.State.RECEIVED, str(exc), done=False)
            raise
        state, note = LeadNotification.State.FAILED, f"{exc} It did not end in time: process this notification again."
    except NeedsReauthorization as exc:
        state, note = LeadNotification.State.FAILED, f"LinkedIn connection needs re-authorisation: {exc}"
    except ApiError as exc:
        state, note = LeadNotification.State.FAILED, str(exc)
    except Exception as exc:
        logger.exception("lead notification %s crashed", notification.pk)
        _record(notification, LeadNotification.State.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        raise
    return _record(notification, state, note)


def _record(notification, state, note, *, done=True):
    notification.state, notification.error = state, note
    notification.processed_at = timezone.now() if done else None
    notification.save(update_fields=["state", "error", "processed_at"])
    return notification


def _integrations_for(notification) -> list[Integration]:
    candidates = Integration.objects.filter(
        state=Integration.State.ACTIVE, form__linkedin_id=notification.form_id
    ).select_related("form__owner__connection", "crm_connection").order_by("pk")
    return [i for i in candidates if not i.lead_types or notification.lead_type in i.lead_types]


def _created(notification) -> tuple[str, str]:
    if LeadNotification.objects.filter(lead_id=notification.lead_id, action=LeadNotification.Action.DELETED).exists():
        return LeadNotification.State.IGNORED, "LinkedIn has reported this lead deleted."
    integrations = _integrations_for(notification)
    if not integrations:
        return LeadNotification.State.IGNORED, (
            f"No active integration for form {notification.form_id} and lead type {notification.lead_type}."
        )
    lead = Lead.objects.filter(linkedin_id=notification.lead_id).select_related("integration").first()
    pulled = new = 0
    if lead is None:
        integration = integrations[0]
        client = linkedin_client(integration.form.owner.connection)
        try:
            element = client.lead_form_response(notification.lead_id)
        except NotFound:
            if LeadNotification.objects.filter(lead_id=notification.lead_id, action=LeadNotification.Action.DELETED).exists():
                return LeadNotification.State.IGNORED, "LinkedIn deleted this lead before it was fetched."
            raise
        form_id = integration.form.linkedin_id
        stored, malformed = leads_store(
            elements=[element], versions=FormVersions([integration.form], client), where=integration,
            route=lambda normalized: integration if normalized.get("form_id") in (None, form_id) else None,
        )
        pulled, new = 1, sum(counts.new for counts in stored.values())
        if malformed:
            return LeadNotification.State.FAILED, (
                "LinkedIn's answer for this lead could not be read (see the worker log); the next sync tries again."
            )
        lead = Lead.objects.filter(linkedin_id__in={notification.lead_id, str(element.get("id"))}).select_related(
            "integration").first()
        if lead is None:
            return LeadNotification.State.IGNORED, "LinkedIn returned a lead of another form."
        # A DELETED that was processed while this lead was being fetched found nothing to delete.
        if LeadNotification.objects.filter(lead_id=notification.lead_id, action=LeadNotification.Action.DELETED).exists():
            lead_erase(lead)
            return LeadNotification.State.IGNORED, "LinkedIn has reported this lead deleted."
    if lead.state == Lead.State.SYNCED:
        return LeadNotification.State.PROCESSED, ""
    if lead.state != Lead.State.PENDING:
        reason = f" ({lead.last_error})" if lead.last_error else ""
        return LeadNotification.State.PROCESSED, f"Not pushed: the lead is {lead.get_state_display().lower()}{reason}."
    if lead.integration_id not in {i.pk for i in integrations}:
        return LeadNotification.State.PROCESSED, f"Not pushed: the lead belongs to {lead.integration}, which is not active."
    return _push(lead, pulled=pulled, new=new)


def _push(lead, *, pulled: int, new: int) -> tuple[str, str]:
    """Push one pending lead under the integration's lock, recorded as a webhook sync run."""
    integration = lead.integration
    try:
        with (integration_locked(integration=integration) as lock,
              sync_run(integration=integration, trigger=SyncRun.Trigger.WEBHOOK, pulled=pulled, new=new) as run):
            leads_push(integration=integration, leads_qs=Lead.objects.filter(pk=lead.pk, state=Lead.State.PENDING),
                       run=run, lock=lock)
    except SyncBusy:
        return LeadNotification.State.PROCESSED, (
            f"Stored; a sync of {integration} was running, and it or the next scheduled sync pushes the lead."
        )
    if run.state == SyncRun.State.FAILED:
        return LeadNotification.State.FAILED, run.error
    lead.refresh_from_db(fields=["state", "last_error"])
    if lead.state == Lead.State.FAILED:
        return LeadNotification.State.PROCESSED, f"Stored, but the CRM refused the lead: {lead.last_error}"
    return LeadNotification.State.PROCESSED, ""


def _deleted(notification) -> tuple[str, str]:
    lead = Lead.objects.filter(linkedin_id=notification.lead_id).select_related("integration__crm_connection").first()
    if lead is None:
        return LeadNotification.State.PROCESSED, "LeadSync had not stored this lead: nothing to delete."
    email = lead.email  # for the audit's digest; empty when an earlier attempt already scrubbed it
    try:
        with integration_locked(integration=lead.integration):
            lead_erase(lead)
    except SyncBusy:
        # A running sync may hold the lead in a batch and write it back as synced (with a new CRM
        # id) after this scrub; applying the deletion again once it ends undoes that.
        lead_erase(lead)
        raise NotificationDeferred(f"A sync of {lead.integration} was running; the deletion is applied again after it.") from None
    return LeadNotification.State.PROCESSED, linkedin_deletion_finish(lead=lead, email=email)
