"""Outgoing lead notifications: signed like LinkedIn's, delivered once per distinct webhook URL, every
attempt recorded. The sandbox's only HTTP client lives here.

`X-LI-Signature` is the hex HMAC-SHA256 of the raw body keyed with the app's client secret.
Delivery is synchronous with a short timeout and never raises: a dead subscriber is a recorded
failure, not a failed lead submission.
"""

import hashlib
import hmac
import json
import secrets
import time

import requests
from django.conf import settings

from .models import LeadNotification, WebhookDelivery

TIMEOUT_SECONDS = 3


def sign(body: bytes, secret=None):
    secret = settings.LINKEDIN_CLIENT_SECRET if secret is None else secret
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def payload_for(lead, action, occurred_at=None):
    body = {
        "type": "LEAD_ACTION",
        "leadGenFormResponse": lead.urn,
        "leadGenForm": lead.form_version.urn,
        "owner": lead.owner,
        "leadType": lead.lead_type,
        "leadAction": action,
        "occurredAt": occurred_at or int(time.time() * 1000),
    }
    if lead.associated_entity:
        body["associatedEntity"] = lead.associated_entity
    return body


def subscriptions_matching(lead):
    """Subscriptions a lead triggers: same owner and lead type, and the form version / associated
    entity when the subscription names one."""
    matches = []
    for sub in LeadNotification.objects.filter(lead_type=lead.lead_type).order_by("id"):
        if sub.owner != lead.owner:
            continue
        if sub.versioned_form and sub.versioned_form != lead.form_version.urn:
            continue
        if sub.associated_entity and sub.associated_entity != lead.associated_entity:
            continue
        matches.append(sub)
    return matches


def deliver(*, webhook, payload, subscription=None, action=""):
    """POST one signed notification and record the outcome."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    signature = sign(body)
    delivery = WebhookDelivery(
        subscription=subscription, webhook=webhook, lead_urn=payload.get("leadGenFormResponse", ""),
        action=action or payload.get("leadAction", ""), payload=body.decode("utf-8"), signature=signature,
    )
    started = time.monotonic()
    try:
        response = requests.post(
            webhook, data=body, timeout=TIMEOUT_SECONDS, allow_redirects=False,
            headers={"Content-Type": "application/json", "X-LI-Signature": signature,
                     "User-Agent": "LeadSync-Sandbox-LinkedIn/1.0"},
        )
        delivery.status_code = response.status_code
        if not 200 <= response.status_code < 300:
            delivery.error = f"HTTP {response.status_code}: {response.text[:500]}"
    except requests.RequestException as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"[:2000]
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.save()
    return delivery


def notify(lead, action, occurred_at=None):
    """Deliver `action` (CREATED or DELETED) for `lead` to every matching subscription, once per URL."""
    payload = payload_for(lead, action, occurred_at)
    deliveries, seen = [], set()
    for sub in subscriptions_matching(lead):
        if sub.webhook in seen:
            continue
        seen.add(sub.webhook)
        deliveries.append(deliver(webhook=sub.webhook, payload=payload, subscription=sub, action=action))
    return deliveries


def validate(webhook):
    """LinkedIn's challenge: GET ?challengeCode=…; the answer must echo it with its hex HMAC.
    Returns None when the webhook passes, else why it failed."""
    challenge = secrets.token_hex(16)
    expected = sign(challenge.encode("utf-8"))
    try:
        response = requests.get(webhook, params={"challengeCode": challenge}, timeout=TIMEOUT_SECONDS,
                                allow_redirects=False)
        data = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if not data or data.get("challengeCode") != challenge or data.get("challengeResponse") != expected:
        return f"challenge not answered correctly (HTTP {response.status_code})"
    return None

