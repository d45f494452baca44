"""OAuth 2.0 as LinkedIn runs it: single-use 30-minute codes, 60-day access tokens, single-use
refresh tokens whose lifetime is counted from the first authorisation (365 days) and never extended.

Tokens are random strings kept in plain text: this is a simulator, and the seed command must be able
to print the token it ensured. Lifetimes can be shortened with the fault switches.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from sandbox import db as sandbox_db
from .models import AccessToken, AuthorizationCode, Grant, RefreshToken, SandboxSettings, TokenState

ACCESS_LIFETIME = timedelta(days=60)
REFRESH_LIFETIME = timedelta(days=365)

# Scopes LinkedIn knows; anything else on the authorization URL is an error page.
KNOWN_SCOPES = frozenset({
    "r_marketing_leadgen_automation", "r_events_leadgen_automation", "r_organization_admin",
    "rw_organization_admin", "r_ads", "rw_ads", "r_ads_reporting", "r_events", "rw_events", "openid",
    "profile", "email", "r_liteprofile", "r_basicprofile", "r_emailaddress", "w_member_social",
    "r_organization_social", "w_organization_social", "r_1st_connections_size",
})
LEAD_SYNC_SCOPES = (
    "r_marketing_leadgen_automation", "r_events_leadgen_automation", "r_organization_admin", "r_ads",
    "r_events", "openid", "profile", "email",
)


class OAuthError(Exception):
    """An OAuth error answer: {"error", "error_description"} with an HTTP status."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def as_dict(self):
        return {"error": self.error, "error_description": self.description}


INVALID_GRANT = "The provided authorization grant or refresh token is invalid, expired or revoked"


@dataclass
class IssuedTokens:
    access: AccessToken
    refresh: RefreshToken
    issued_at: datetime | None = None

    def as_response(self):
        """The accessToken answer; lifetimes are counted from the moment of issue."""
        now = self.issued_at or timezone.now()
        return {
            "access_token": self.access.token,
            "expires_in": max(0, int((self.access.expires_at - now).total_seconds())),
            "refresh_token": self.refresh.token,
            "refresh_token_expires_in": max(0, int((self.refresh.expires_at - now).total_seconds())),
            "scope": ",".join(self.access.grant.scopes),
            "token_type": "Bearer",
        }


def _new_token(prefix):
    return prefix + secrets.token_urlsafe(48)


def _lifetimes():
    switches = SandboxSettings.load()
    access = timedelta(seconds=switches.access_token_lifetime) if switches.access_token_lifetime else ACCESS_LIFETIME
    refresh = (
        timedelta(seconds=switches.refresh_token_lifetime) if switches.refresh_token_lifetime else REFRESH_LIFETIME
    )
    return access, refresh


def check_client(client_id, client_secret=None):
    """Client credentials are the product's own settings: the sandbox plays the app registration."""
    if not client_id or client_id != settings.LINKEDIN_CLIENT_ID:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    if client_secret is not None and client_secret != settings.LINKEDIN_CLIENT_SECRET:
        raise OAuthError(401, "invalid_client", "Client authentication failed")


def authorization_code_issue(*, member, client_id, redirect_uri, scopes):
    return AuthorizationCode.objects.create(
        code=_new_token("AQT"), member=member, client_id=client_id, redirect_uri=redirect_uri, scopes=list(scopes)
    )


def grant_create(*, member, client_id, scopes, now=None):
    """A fresh authorisation. Asking for a different scope set invalidates the member's earlier access
    tokens for this app, as on LinkedIn."""
    now = now or timezone.now()
    _, refresh_lifetime = _lifetimes()
    for old in Grant.objects.filter(member=member, client_id=client_id):
        if sorted(old.scopes) != sorted(scopes):
            old.access_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
    grant = Grant.objects.create(
        member=member, client_id=client_id, scopes=list(scopes), authorized_at=now,
        refresh_expires_at=now + refresh_lifetime,
    )
    return grant


def tokens_issue(*, grant, now=None):
    """A new access token and a new refresh token for `grant`; the refresh token ends with the grant."""
    now = now or timezone.now()
    access_lifetime, _ = _lifetimes()
    access = AccessToken.objects.create(
        token=_new_token("AQV"), grant=grant, created=now, expires_at=now + access_lifetime
    )
    refresh = RefreshToken.objects.create(
        token=_new_token("AQX"), grant=grant, created=now, expires_at=grant.refresh_expires_at
    )
    return IssuedTokens(access, refresh, issued_at=now)


@sandbox_db.atomic
def code_exchange(*, code, redirect_uri, client_id, client_secret):
    check_client(client_id, client_secret)
    now = timezone.now()
    auth_code = AuthorizationCode.objects.select_for_update().filter(code=code or "").first()
    if auth_code is None or auth_code.client_id != client_id:
        raise OAuthError(401, "invalid_request", "Unable to retrieve access token: authorization code not found")
    if auth_code.used_at:
        raise OAuthError(400, "invalid_request", INVALID_GRANT)
    if auth_code.redirect_uri != redirect_uri or auth_code.expires_at <= now:
        raise OAuthError(
            400, "invalid_redirect_uri",
            "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. "
            "Or authorization code expired.",
        )
    auth_code.used_at = now
    auth_code.save(update_fields=["used_at"])
    grant = grant_create(member=auth_code.member, client_id=client_id, scopes=auth_code.scopes, now=now)
    return tokens_issue(grant=grant, now=now)


@sandbox_db.atomic
def token_refresh(*, refresh_token, client_id, client_secret):
    """New access and refresh tokens; the old refresh token is spent. The refresh lifetime keeps
    counting down from the first authorisation."""
    check_client(client_id, client_secret)
    now = timezone.now()
    old = RefreshToken.objects.select_for_update().select_related("grant").filter(token=refresh_token or "").first()
    if old is None or old.grant.client_id != client_id or old.status(now) != TokenState.ACTIVE:
        raise OAuthError(400, "invalid_request", INVALID_GRANT)
    old.used_at = now
    old.save(update_fields=["used_at"])
    return tokens_issue(grant=old.grant, now=now)


def token_introspect(*, token, client_id, client_secret):
    """What /introspectToken says about an access or refresh token (times in epoch seconds)."""
    if not client_id or client_id != settings.LINKEDIN_CLIENT_ID:
        raise OAuthError(400, "invalid_request", "Invalid client id")
    if client_secret != settings.LINKEDIN_CLIENT_SECRET:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    found = (
        AccessToken.objects.select_related("grant").filter(token=token or "").first()
        or RefreshToken.objects.select_related("grant").filter(token=token or "").first()
    )
    if found is None:
        raise OAuthError(400, "invalid_request", "Invalid token")
    status = found.status()
    return {
        "active": status == TokenState.ACTIVE,
        "client_id": found.grant.client_id,
        "authorized_at": int(found.grant.authorized_at.timestamp()),
        "created_at": int(found.created.timestamp()),
        "status": str(status),
        "expires_at": int(found.expires_at.timestamp()),
        "scope": ",".join(found.grant.scopes),
        "auth_type": "3L",
    }


def tokens_ensure(*, member, scopes=LEAD_SYNC_SCOPES):
    """Live tokens for `member` with exactly `scopes`: reuse an unexpired, unspent pair, else authorise
    anew. Lets the seed command print usable tokens on every run without piling up grants."""
    now = timezone.now()
    client_id = settings.LINKEDIN_CLIENT_ID or "sandbox-client"
    for grant in Grant.objects.filter(member=member, client_id=client_id).order_by("-authorized_at"):
        if sorted(grant.scopes) != sorted(scopes):
            continue
        access = grant.access_tokens.filter(revoked_at__isnull=True, expires_at__gt=now).order_by("-created").first()
        refresh = grant.refresh_tokens.filter(
            revoked_at__isnull=True, used_at__isnull=True, expires_at__gt=now
        ).order_by("-created").first()
        if access and refresh:
            return IssuedTokens(access, refresh, issued_at=now)
        if refresh:
            refresh.used_at = now
            refresh.save(update_fields=["used_at"])
            return tokens_issue(grant=grant, now=now)
    grant = grant_create(member=member, client_id=client_id, scopes=scopes, now=now)
    return tokens_issue(grant=grant, now=now)
