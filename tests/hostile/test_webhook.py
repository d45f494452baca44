"""The webhook on generated hostile bodies: random bytes, invalid UTF-8, NaN, far too deep
nesting, bodies around the size limit, spoiled notifications; signed in every reading LinkedIn's
wording admits (so the body reaches the parser), wrongly, or not at all. Never a 5xx, and nothing
stored unless it was accepted."""

import hashlib
import hmac
import json

import pytest
from django.db import transaction
from hypothesis import event, given
from hypothesis import strategies as st

from connectors.payloads import check_storable
from leads import webhooks
from leads.models import LeadNotification
from tests.hostile import strategies as hs

SECRET = "test-client-secret"
URL = "/linkedin/webhook/"


def hex_hmac(message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


SIGNINGS = {
    "hex": lambda body: hex_hmac(body),
    "prefixed hex": lambda body: "hmacsha256=" + hex_hmac(body),
    "hex of prefixed body": lambda body: hex_hmac(b"hmacsha256=" + body),
    "upper case, spaced": lambda body: "  " + hex_hmac(body).upper() + " ",
    "another body's": lambda body: hex_hmac(body + b" "),
    "cut short": lambda body: hex_hmac(body)[:-1],
    "empty": lambda body: "",
    "garbage": lambda body: "hmacsha256=zz",
    "none": lambda body: None,
}
VALID = {"hex", "prefixed hex", "hex of prefixed body", "upper case, spaced"}


@hs.budget(1500)
@given(hs.bodies())
def test_the_notification_parser_takes_a_body_or_says_what_is_wrong(body):
    """The view's parser, without the view: a lead notification's fields or InvalidNotification."""
    try:
        fields = webhooks._notification_fields(body)
    except webhooks.InvalidNotification as exc:
        event("refused")
        assert str(exc)
        return
    event("accepted")
    check_storable(fields["payload"], what="the stored payload")
    for name, limit in webhooks.MAX_LENGTHS.items():
        assert isinstance(fields[name], str) and len(fields[name]) <= limit


@pytest.fixture
def queued(monkeypatch, settings):
    settings.LINKEDIN_CLIENT_SECRET = SECRET
    ids = []

    class FakeTask:
        @staticmethod
        def delay(notification_id):
            ids.append(notification_id)

    monkeypatch.setattr("leads.views.process_lead_notification", FakeTask)
    return ids


@pytest.mark.django_db
@pytest.mark.postgres
@hs.budget(500)
@given(body=hs.bodies(), signing=st.sampled_from(sorted(SIGNINGS)))
def test_the_webhook_never_answers_5xx_and_keeps_only_what_it_accepted(client, queued, body, signing):
    signature = SIGNINGS[signing](body)
    headers = {} if signature is None else {"HTTP_X_LI_SIGNATURE": signature}
    with transaction.atomic():  # each case starts from an empty table
        before = LeadNotification.objects.count()
        response = client.post(URL, data=body, content_type="application/json", **headers)
        after = LeadNotification.objects.count()
        transaction.set_rollback(True)
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.content[:300]
    assert "error" in response.json() or response.status_code == 200
    if len(body) > 64 * 1024:
        assert response.status_code == 413
    elif signing not in VALID:
        assert response.status_code == 401
    if response.status_code != 200:
        assert after == before, "a refused body is never stored"
    else:
        assert response.json()["status"] in ("accepted", "duplicate")
        assert after == before + (response.json()["status"] == "accepted")
        json.loads(body)  # only a JSON notification is ever accepted
