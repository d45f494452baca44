"""The web side of LinkedIn's 3-legged OAuth flow (LGF-001): what `/linkedin/connect/` and
`/linkedin/callback/` do, as plain functions over the admin's session so tests can call them.

A `state` is a random value kept in the session of the admin who started the flow. LinkedIn hands
it back on the callback; a callback whose state this session did not issue, issued more than
STATE_TTL ago or already used is refused before any code is exchanged. That is the CSRF
protection: nobody can make an admin's browser finish a consent they did not start (and so bind
a stranger's LinkedIn account to LeadSync). A few states may be pending at once, so an admin who
opened the consent page in two tabs can finish either.
"""

import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from connectors.clients import linkedin_oauth
from connectors.linkedin.oauth import LinkedInOAuth
from connectors.models import LinkedInConnection
from connectors.tokens import linkedin_connection_save_tokenset

logger = logging.getLogger(__name__)

STATE_SESSION_KEY = "linkedin_oauth_states"
# LinkedIn's authorization codes live 30 minutes; a consent page left open longer than this is
# started again rather than trusted.
STATE_TTL_SECONDS = 10 * 60
MAX_PENDING_STATES = 5


@dataclass(frozen=True)
class PendingAuthorization:
    """What the session remembered about a started flow: the redirect URI must be sent again,
    unchanged, with the code exchange."""

    redirect_uri: str


def linkedin_requested_scopes() -> list[str]:
    """The lead sync scopes. The event-only scope is opt-in (LINKEDIN_REQUEST_EVENT_SCOPE) because
    asking for a scope the app was not granted makes LinkedIn refuse the whole request, and asking
    for another set later invalidates the tokens issued for the earlier one."""
    scopes = list(LinkedInOAuth.SCOPES)
    if settings.LINKEDIN_REQUEST_EVENT_SCOPE:
        scopes.append(LinkedInOAuth.EVENT_SCOPE)
    return scopes


def linkedin_redirect_uri(*, request) -> str:
    """LINKEDIN_REDIRECT_URI when set (it must match the URI registered with the LinkedIn app
    exactly, e.g. behind a proxy that rewrites the host), else the callback on the host the admin
    is using."""
    return settings.LINKEDIN_REDIRECT_URI or request.build_absolute_uri(reverse("linkedin_callback"))


def linkedin_authorization_start(*, session, redirect_uri: str) -> str:
    """Issue a state in `session` and return the LinkedIn consent URL to send the admin to.

    Raises ConfigurationError (before touching the session) when the app's credentials are
    missing. Expired states are dropped, and only the newest MAX_PENDING_STATES are kept."""
    oauth = linkedin_oauth()
    scopes = linkedin_requested_scopes()
    state = secrets.token_urlsafe(32)
    now = time.time()
    pending = {
        key: value
        for key, value in _pending_states(session).items()
        if now - value.get("issued_at", 0) < STATE_TTL_SECONDS
    }
    pending[state] = {"issued_at": now, "redirect_uri": redirect_uri}
    newest = sorted(pending.items(), key=lambda item: item[1]["issued_at"])[-MAX_PENDING_STATES:]
    session[STATE_SESSION_KEY] = dict(newest)
    return oauth.authorization_url(redirect_uri, state, scopes)


def linkedin_authorization_state_consume(*, session, state: str | None) -> PendingAuthorization | None:
    """Check `state` against the session and forget it, whatever the outcome of the flow, so it
    can never be used twice. None when the session did not issue it or it has expired."""
    pending = _pending_states(session)
    if not state or not pending:
        return None
    # Constant-time comparison: the state is a secret until LinkedIn hands it back.
    match = next((key for key in pending if hmac.compare_digest(key.encode(), state.encode())), None)
    if match is None:
        return None
    entry = pending.pop(match)
    session[STATE_SESSION_KEY] = pending
    if time.time() - entry.get("issued_at", 0) >= STATE_TTL_SECONDS:
        return None
    return PendingAuthorization(redirect_uri=entry["redirect_uri"])


def linkedin_authorization_finish(*, code: str, authorization: PendingAuthorization) -> LinkedInConnection:
    """Exchange the code (single use, with the redirect URI the flow started with) and store the
    tokens: re-connecting a member updates their connection, never duplicates it.

    Raises OAuthError when LinkedIn refuses the code, another ApiError when LinkedIn cannot be
    reached or refuses the tokens, ConfigurationError when the app's credentials are gone; in
    every case nothing is stored. Neither the code nor the tokens are logged."""
    tokens = linkedin_oauth().exchange_code(code, authorization.redirect_uri)
    connection = linkedin_connection_save_tokenset(tokens=tokens)
    logger.info(
        "LinkedIn connection %r authorised by %s with scopes %s",
        connection.name, connection.member_urn or "an unknown member", " ".join(connection.scopes),
    )
    return connection


def _pending_states(session) -> dict:
    value = session.get(STATE_SESSION_KEY)
    return dict(value) if isinstance(value, dict) else {}
