"""LinkedIn lead notification subscriptions (webhooks) of a form's owner.

Subscriptions are owner-level, one per owner and lead type: LinkedIn then notifies every lead of
the owner, whichever form version it came from, so publishing a new version of a form never
silences its notifications. Leads of forms that are not enabled are ignored when they arrive.
Because they are owner-level, two enabled forms of one owner share their subscriptions.
"""

from connectors.exceptions import NotFound
from connectors.models import LeadForm, LinkedInConnection
from connectors.tokens import linkedin_client


def _reusable(subscriptions: list[dict], webhook_url: str) -> str | None:
    """The id of an owner-level subscription of `webhook_url` (one narrowed to a form version or an
    associated entity would miss the leads of other versions, so it does not count)."""
    for element in subscriptions:
        if element.get("id") is None or element.get("webhook") != webhook_url:
            continue
        if element.get("versionedForm") or element.get("associatedEntity"):
            continue
        return str(element["id"])
    return None


def lead_notifications_subscribe(*, form: LeadForm, webhook_url: str) -> list[str]:
    """Subscribe `webhook_url` to the lead notifications of the form's owner, for each lead type
    the form receives, and return the subscription ids (no repeats, in lead type order).

    Idempotent: a subscription LinkedIn already has for that owner, lead type and URL is reused,
    so calling this again (after a failure half-way, or on recreate) never creates a second one.
    LinkedIn's create is not retried (a lost answer may hide a subscription); calling again is
    the retry. API failures raise `connectors.exceptions.ApiError`, an unusable connection
    `NeedsReauthorization`.
    """
    if not webhook_url:
        raise ValueError("webhook_url is empty: set LEADSYNC_WEBHOOK_URL to the public https URL of /linkedin/webhook/.")
    owner = form.owner
    client = linkedin_client(owner.connection)
    ids = []
    for lead_type in form.receives():
        subscription_id = _reusable(client.lead_notifications(owner.urn, lead_type), webhook_url)
        if subscription_id is None:
            subscription_id = client.create_lead_notification(webhook_url, owner.urn, lead_type)
        ids.append(str(subscription_id))
    return list(dict.fromkeys(ids))


def lead_notifications_unsubscribe(*, connection: LinkedInConnection, ids) -> None:
    """Delete the subscriptions `ids`. One that is already gone (NotFound) counts as deleted, so a
    teardown interrupted half-way can simply be run again. Other failures raise ApiError and leave
    the remaining ids untouched."""
    if not ids:
        return
    client = linkedin_client(connection)
    for subscription_id in ids:
        try:
            client.delete_lead_notification(subscription_id)
        except NotFound:
            pass
