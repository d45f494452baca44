"""LGF-001: connecting a LinkedIn account through /linkedin/connect/ and /linkedin/callback/.

The product side is driven with Django's test client (an admin's browser session); the consent
page is the sandbox's, answered over real HTTP with `requests`, and the code exchange goes over
real HTTP to the sandbox served by the live server, as it would go to LinkedIn."""

import logging
from datetime import timedelta
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.linkedin.oauth import LinkedInOAuth
from connectors.models import LinkedInConnection
from connectors.oauth_flow import MAX_PENDING_STATES, STATE_SESSION_KEY, STATE_TTL_SECONDS

CONNECT = "/linkedin/connect/"
CALLBACK = "/linkedin/callback/"
CHANGELIST = "/admin/connectors/linkedinconnection/"
STATE_MISMATCH = "The sign-in could not be verified (state mismatch); start again."
CANCELLED = "LinkedIn consent was cancelled; nothing was changed."


@pytest.fixture
def linkedin_sandbox(live_server, settings):
    """The product pointed at the seeded sandbox served by the live server."""
    settings.LINKEDIN_API_URL = f"{live_server.url}/sandbox/linkedin"
    settings.LINKEDIN_OAUTH_URL = f"{live_server.url}/sandbox/linkedin/oauth/v2"
    call_command("sandbox_seed", "--leads", "0", stdout=StringIO())
    return live_server


class _ConsentForm(HTMLParser):
    """The hidden fields of the sandbox consent form (the OAuth parameters and its CSRF token)."""

    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value", "")


def consent(authorization_url, action="allow", member=None):
    """Answer the consent page like a member would: load it, press Allow or Cancel. Returns the
    URL LinkedIn (the sandbox) sends the browser back to."""
    with requests.Session() as browser:
        page = browser.get(authorization_url, allow_redirects=False, timeout=10)
        assert page.status_code == 200, page.text
        form = _ConsentForm()
        form.feed(page.text)
        data = {**form.fields, "action": action, **({"member": member} if member else {})}
        answer = browser.post(authorization_url.split("?")[0], data=data, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def start(client):
    response = client.get(CONNECT)
    assert response.status_code == 302
    return response["Location"]


def query_of(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def come_back(client, callback_url):
    """Follow LinkedIn's redirect back to the product, as the admin's browser would."""
    parts = urlsplit(callback_url)
    assert parts.path == CALLBACK
    return client.get(f"{parts.path}?{parts.query}", follow=True)


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


def connect(client, **consent_kwargs):
    callback_url = consent(start(client), **consent_kwargs)
    return callback_url, come_back(client, callback_url)


def raw_token_columns():
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM connectors_linkedinconnection")
        return cursor.fetchall()


def sandbox_authorization_code(code):
    from sandbox.linkedin.models import AuthorizationCode

    return AuthorizationCode.objects.get(code=code)


# --- the full flow over HTTP ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_connecting_stores_one_connection_with_encrypted_tokens_expiry_and_scopes(
    admin_client, linkedin_sandbox, caplog
):
    caplog.set_level(logging.DEBUG)
    before = timezone.now()
    callback_url, response = connect(admin_client)

    connection = LinkedInConnection.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:connectors_linkedinconnection_change", args=[connection.pk])
    assert connection.member_name == "Alex Admin" and connection.member_urn == "urn:li:person:AlexAdmin01"
    assert connection.status == LinkedInConnection.Status.ACTIVE
    assert sorted(connection.scopes) == sorted(LinkedInOAuth.SCOPES)
    assert timedelta(days=59) < connection.access_token_expires_at - before <= timedelta(days=60, minutes=1)
    assert timedelta(days=364) < connection.refresh_token_expires_at - before <= timedelta(days=365, minutes=1)
    assert connection.authorized_at >= before

    [success] = messages_of(response)
    assert "Alex Admin" in success and "r_marketing_leadgen_automation" in success
    page = response.content.decode()
    assert "Alex Admin" in page and "Active" in page

    # The tokens are the sandbox's, encrypted at rest, and shown or logged nowhere.
    from sandbox.linkedin.models import AccessToken

    issued = AccessToken.objects.filter(grant__member__person_id="AlexAdmin01").latest("created")
    assert connection.access_token == issued.token and connection.refresh_token.startswith("AQX")
    [(raw_access, raw_refresh)] = raw_token_columns()
    assert raw_access.startswith("fernet:") and raw_refresh.startswith("fernet:")
    code = query_of(callback_url)["code"]
    assert sandbox_authorization_code(code).used_at is not None
    for secret in (issued.token, connection.refresh_token, code):
        assert secret not in raw_access + raw_refresh
        assert secret not in page and secret not in success
        assert secret not in caplog.text
    assert admin_client.session[STATE_SESSION_KEY] == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_connecting_the_same_member_again_updates_the_connection(admin_client, linkedin_sandbox):
    connect(admin_client)
    first = LinkedInConnection.objects.get()
    _, response = connect(admin_client)

    again = LinkedInConnection.objects.get()
    assert again.pk == first.pk and again.name == first.name
    assert again.access_token != first.access_token
    assert response.redirect_chain[-1][0] == reverse("admin:connectors_linkedinconnection_change", args=[first.pk])


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_another_member_gets_a_connection_of_their_own(admin_client, linkedin_sandbox):
    from sandbox.linkedin.seed_data import ROBIN

    connect(admin_client)
    connect(admin_client, member=ROBIN)

    assert sorted(LinkedInConnection.objects.values_list("member_name", flat=True)) == ["Alex Admin", "Robin Ångström"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_cancelled_consent_says_so_and_stores_nothing(admin_client, linkedin_sandbox):
    callback_url, response = connect(admin_client, action="cancel")

    assert query_of(callback_url)["error"] == "user_cancelled_authorize"
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert messages_of(response) == [CANCELLED]
    assert not LinkedInConnection.objects.exists()
    assert admin_client.session[STATE_SESSION_KEY] == {}


@pytest.mark.parametrize("error", ["user_cancelled_login", "user_cancelled_authorize"])
@pytest.mark.django_db
def test_both_cancel_errors_read_as_a_cancelled_consent(admin_client, error):
    state = query_of(start(admin_client))["state"]
    response = admin_client.get(CALLBACK, {"error": error, "error_description": "The user cancelled", "state": state},
                                follow=True)

    assert messages_of(response) == [CANCELLED]
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db
def test_any_other_linkedin_error_is_reported_and_stores_nothing(admin_client):
    state = query_of(start(admin_client))["state"]
    response = admin_client.get(
        CALLBACK, {"error": "unauthorized_scope_error", "error_description": "Scope not authorized", "state": state},
        follow=True,
    )

    [message] = messages_of(response)
    assert "unauthorized_scope_error" in message and "nothing was changed" in message
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_forged_state_is_refused_and_the_code_is_never_exchanged(admin_client, linkedin_sandbox):
    callback_url = consent(start(admin_client))
    code = query_of(callback_url)["code"]

    response = admin_client.get(CALLBACK, {"code": code, "state": "forged-state"})

    assert response.status_code == 400
    assert STATE_MISMATCH in response.content.decode() and code not in response.content.decode()
    assert sandbox_authorization_code(code).used_at is None
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_callback_without_state_is_refused(admin_client, linkedin_sandbox):
    code = query_of(consent(start(admin_client)))["code"]

    assert admin_client.get(CALLBACK, {"code": code}).status_code == 400
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_state_issued_to_another_session_is_refused(admin_client, linkedin_sandbox, django_user_model):
    """The CSRF case: an attacker starts a flow with their own LinkedIn account and lures an
    admin's browser to the callback; the admin's session never issued that state."""
    attacker = Client()
    attacker.force_login(django_user_model.objects.create_superuser("mallory", "m@example.com", "pw"))
    callback_url = consent(start(attacker))

    parts = urlsplit(callback_url)
    response = admin_client.get(f"{parts.path}?{parts.query}")

    assert response.status_code == 400 and STATE_MISMATCH in response.content.decode()
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_state_cannot_be_used_twice(admin_client, linkedin_sandbox):
    callback_url, _ = connect(admin_client)
    tokens_before = LinkedInConnection.objects.get().access_token

    parts = urlsplit(callback_url)
    replay = admin_client.get(f"{parts.path}?{parts.query}")

    assert replay.status_code == 400
    assert LinkedInConnection.objects.get().access_token == tokens_before


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_expired_state_is_refused(admin_client, linkedin_sandbox):
    authorization_url = start(admin_client)
    state = query_of(authorization_url)["state"]
    session = admin_client.session
    session[STATE_SESSION_KEY][state]["issued_at"] -= STATE_TTL_SECONDS + 1
    session.save()
    callback_url = consent(authorization_url)

    response = admin_client.get(f"{CALLBACK}?{urlsplit(callback_url).query}")

    assert response.status_code == 400
    assert sandbox_authorization_code(query_of(callback_url)["code"]).used_at is None
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_code_linkedin_refuses_is_a_clear_error_and_stores_nothing(admin_client, linkedin_sandbox):
    state = query_of(start(admin_client))["state"]

    response = admin_client.get(CALLBACK, {"code": "AQT-not-a-real-code", "state": state}, follow=True)

    [message] = messages_of(response)
    assert "LinkedIn refused the sign-in" in message and "authorization code not found" in message
    assert "AQT-not-a-real-code" not in response.content.decode()
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert not LinkedInConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_unreachable_linkedin_is_a_clear_error_and_stores_nothing(admin_client, linkedin_sandbox, settings):
    authorization_url = start(admin_client)
    callback_url = consent(authorization_url)
    settings.LINKEDIN_OAUTH_URL = "http://127.0.0.1:9/oauth/v2"

    response = come_back(admin_client, callback_url)

    [message] = messages_of(response)
    assert "could not be reached" in message and "nothing was changed" in message
    assert not LinkedInConnection.objects.exists()


# --- who may connect -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(CONNECT)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={CONNECT}"

    response = client.get(CALLBACK, {"code": "AQT-secret-code", "state": "s"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert "AQT-secret-code" not in response["Location"]


@pytest.mark.django_db
def test_users_who_are_not_staff_are_sent_to_the_admin_login(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("sam", "sam@example.com", "pw"))

    for path in (CONNECT, CALLBACK):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert STATE_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_staff_without_the_connection_permission_cannot_connect(client, django_user_model):
    staff = django_user_model.objects.create_user("kim", "kim@example.com", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get(CONNECT).status_code == 403
    assert "Connect LinkedIn account" not in client.get(CHANGELIST).content.decode()

    staff.user_permissions.add(
        Permission.objects.get(codename="change_linkedinconnection"),
        Permission.objects.get(codename="view_linkedinconnection"),
    )
    client.force_login(get_user_model().objects.get(pk=staff.pk))
    assert client.get(CONNECT).status_code == 302
    assert "Connect LinkedIn account" in client.get(CHANGELIST).content.decode()


# --- starting the flow ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_changelist_offers_the_connect_button(admin_client):
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Connect LinkedIn account" in page and f'href="{CONNECT}"' in page


@pytest.mark.django_db
def test_missing_app_credentials_are_a_clear_message_and_no_redirect_to_linkedin(admin_client, settings):
    settings.LINKEDIN_CLIENT_SECRET = ""

    response = admin_client.get(CONNECT, follow=True)

    assert response.redirect_chain == [(CHANGELIST, 302)]
    [message] = messages_of(response)
    assert "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET must be set" in message
    assert STATE_SESSION_KEY not in admin_client.session


@pytest.mark.django_db
def test_the_consent_request_asks_for_the_lead_sync_scopes_with_a_fresh_state(admin_client, settings):
    settings.LINKEDIN_OAUTH_URL = "https://www.linkedin.com/oauth/v2"
    first, second = start(admin_client), start(admin_client)

    assert first.startswith("https://www.linkedin.com/oauth/v2/authorization?")
    query = query_of(first)
    assert query["response_type"] == "code" and query["client_id"] == settings.LINKEDIN_CLIENT_ID
    assert query["scope"].split(" ") == list(LinkedInOAuth.SCOPES)
    assert len(query["state"]) >= 32 and query["state"] != query_of(second)["state"]
    assert set(admin_client.session[STATE_SESSION_KEY]) == {query["state"], query_of(second)["state"]}


@pytest.mark.django_db
def test_the_event_scope_is_asked_for_only_when_configured(admin_client, settings):
    settings.LINKEDIN_REQUEST_EVENT_SCOPE = True
    assert query_of(start(admin_client))["scope"].split(" ") == [*LinkedInOAuth.SCOPES, LinkedInOAuth.EVENT_SCOPE]


@pytest.mark.django_db
def test_the_redirect_uri_is_the_setting_when_set_else_the_callback_on_this_host(admin_client, settings):
    settings.LINKEDIN_REDIRECT_URI = ""
    assert query_of(start(admin_client))["redirect_uri"] == f"http://testserver{CALLBACK}"

    settings.LINKEDIN_REDIRECT_URI = "https://leadsync.example.com/linkedin/callback/"
    assert query_of(start(admin_client))["redirect_uri"] == "https://leadsync.example.com/linkedin/callback/"


@pytest.mark.django_db
def test_only_the_newest_few_states_stay_pending(admin_client):
    states = [query_of(start(admin_client))["state"] for _ in range(MAX_PENDING_STATES + 2)]

    assert list(admin_client.session[STATE_SESSION_KEY]) == states[-MAX_PENDING_STATES:]
    oldest = admin_client.get(CALLBACK, {"error": "user_cancelled_login", "state": states[0]})
    assert oldest.status_code == 400
