"""LinkedIn tokens: storing a connection from checked tokens, renewing them under a row lock, and
flagging a connection that only a new consent can save. `linkedin_client` is the one way to get an
API client for a connection: it renews ahead of expiry and once on a 401."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.clients import linkedin_budgets, linkedin_oauth, rate_limiter, retry_policy
from connectors.exceptions import ApiError, Forbidden, NeedsReauthorization, OAuthError, Unauthorized
from connectors.linkedin.client import LinkedInClient
from connectors.linkedin.urns import PERSON, make_urn
from connectors.models import LinkedInConnection
from connectors.notifications import notify_needs_reauth
from connectors.permissions import permission_problems
from connectors.schedules import heartbeat_schedule_ensure

logger = logging.getLogger(__name__)


def _seconds_from_now(seconds, now):
    return now + timedelta(seconds=int(seconds)) if seconds else None


def linkedin_connection_save_tokens(
    *, name=None, access_token, refresh_token=None, expires_in=None, refresh_expires_in=None, scopes=None
) -> LinkedInConnection:
    """Store a LinkedIn connection from tokens after checking them: introspection when the app's
    credentials are configured (state, expiry, scopes) and the member's userinfo (name). A token
    LinkedIn refuses raises and changes nothing.

    Which connection gets the tokens: the one called NAME when a name is given (`leadsync linkedin
    add NAME`: the headless way to re-authorise), else the one of the same LinkedIn member (the
    OAuth flow: re-connecting a member updates it, never duplicates it), else a new one named
    after the member."""
    now = timezone.now()
    granted, expires_at = list(scopes or []), _seconds_from_now(expires_in, now)
    if settings.LINKEDIN_CLIENT_ID and settings.LINKEDIN_CLIENT_SECRET:
        try:
            info = linkedin_oauth().introspect(access_token)
        except (OAuthError, ApiError) as exc:
            # Introspection is the app's call, not the member's: a server without it, or app
            # credentials it does not know, say nothing about this token. The member call decides.
            logger.warning("token introspection unavailable (%s); checking the token with a member call", exc)
        else:
            if not info.active or info.status != "active":
                raise Unauthorized(f"LinkedIn says this access token is {info.status or 'not active'}.",
                                   reason=info.status if info.status in ("expired", "revoked") else "invalid")
            granted = list(info.scopes) or granted
            expires_at = expires_at or info.expires_at
    client = LinkedInClient.from_settings(access_token=access_token, retry=retry_policy())
    member = {}
    try:
        member = client.userinfo()  # a refused token raises Unauthorized here: nothing is stored
    except Forbidden:
        try:
            me = client.me()  # no openid/profile scope: /v2/me still proves the token
            member = {"sub": me.get("id"), "name": " ".join(
                filter(None, [me.get("localizedFirstName"), me.get("localizedLastName")]))}
        except Forbidden:
            pass  # neither member call is allowed: the connection works, it has no name to show
    member_urn = make_urn(PERSON, member["sub"]) if member.get("sub") else ""
    roles = None
    if "r_organization_admin" in granted:
        try:
            roles = [acl.get("role") for acl in client.organization_acls() if acl.get("state", "APPROVED") == "APPROVED"]
        except Forbidden:
            roles = None
    defaults = dict(
        access_token=access_token,
        access_token_expires_at=expires_at,
        refresh_token=refresh_token or "",
        refresh_token_expires_at=_seconds_from_now(refresh_expires_in, now) if refresh_token else None,
        status=LinkedInConnection.Status.ACTIVE,
        authorized_at=now,
        last_error="",
        last_heartbeat_at=now,
        last_heartbeat_ok=True,
        reauth_notified_at=None,
        permission_problems=permission_problems(granted, roles=roles),
    )
    if granted:
        defaults["scopes"] = granted
    if member_urn:
        defaults["member_urn"] = member_urn
    if member.get("name"):
        defaults["member_name"] = member["name"]
    if member.get("email"):
        defaults["member_email"] = member["email"]
    with transaction.atomic():
        if name:
            connection = LinkedInConnection.objects.filter(name=name).first()
        else:
            connection = LinkedInConnection.objects.filter(member_urn=member_urn).first() if member_urn else None
        if connection is None:
            connection = LinkedInConnection(name=name or _unique_connection_name(member.get("name") or member_urn or "LinkedIn"))
        for field, value in defaults.items():
            setattr(connection, field, value)
        connection.save()
        heartbeat_schedule_ensure()
    return connection


def _unique_connection_name(base):
    name, n = base[:90], 1
    while LinkedInConnection.objects.filter(name=name).exists():
        n += 1
        name = f"{base[:90]} ({n})"
    return name


def linkedin_connection_save_tokenset(*, tokens, name=None) -> LinkedInConnection:
    """Store the tokens of a finished OAuth exchange (see linkedin_connection_save_tokens)."""
    return linkedin_connection_save_tokens(
        name=name, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in, refresh_expires_in=tokens.refresh_token_expires_in, scopes=tokens.scopes,
    )


def connection_mark_needs_reauth(*, connection: LinkedInConnection, reason: str) -> None:
    """Flag the connection (its syncs stop cleanly) and e-mail the admins once per incident."""
    LinkedInConnection.objects.filter(pk=connection.pk).update(
        status=LinkedInConnection.Status.NEEDS_REAUTH, last_error=reason, updated_at=timezone.now()
    )
    connection.status, connection.last_error = LinkedInConnection.Status.NEEDS_REAUTH, reason
    logger.warning("LinkedIn connection %s needs re-authorisation: %s", connection.name, reason)
    notify_needs_reauth(connection)


REFRESH_LEASE = timedelta(seconds=60)
REFRESH_WAIT = timedelta(seconds=30)


def _refresh_claim(connection, failed_token):
    """Claim the right to spend the refresh token, in a short transaction under a row lock.
    Returns ("done", token) when another worker already renewed it, ("busy", None) while another
    worker holds the claim, ("claimed", row) when the caller must refresh now."""
    with transaction.atomic():
        locked = LinkedInConnection.objects.select_for_update().get(pk=connection.pk)
        now = timezone.now()
        if failed_token is not None and locked.access_token != failed_token and not locked.access_token_expired(now):
            return "done", locked
        if locked.refreshing_until and locked.refreshing_until > now:
            return "busy", None
        locked.refreshing_until = now + REFRESH_LEASE
        locked.save(update_fields=["refreshing_until"])
        return "claimed", locked


def connection_refresh(*, connection: LinkedInConnection, failed_token: str | None = None, sleep=time.sleep) -> str:
    """Mint a new access token with the refresh token. Two workers never spend one refresh token:
    the first claims the connection (row lock, then a short lease so no transaction stays open
    during the HTTP call), the others wait for it and use the token it stored. Raises
    NeedsReauthorization (and flags the connection) when only a new consent can help."""
    deadline = timezone.now() + REFRESH_WAIT
    while True:
        outcome, locked = _refresh_claim(connection, failed_token)
        if outcome != "busy":
            break
        if timezone.now() >= deadline:
            raise NeedsReauthorization("Another worker has been renewing this LinkedIn token for too long; try again.")
        sleep(0.2)
    if outcome == "done":
        connection.access_token = locked.access_token
        return locked.access_token

    now = timezone.now()
    reason = None
    try:
        if not locked.refresh_token:
            reason = "The access token expired and LinkedIn issued no refresh token: connect the account again."
        elif locked.refresh_token_expired(now):
            reason = "The refresh token expired (365 days after consent): connect the account again."
        else:
            try:
                tokens = linkedin_oauth().refresh(locked.refresh_token)
            except OAuthError as exc:
                if not exc.reauthorize:
                    raise
                reason = f"LinkedIn refused the refresh token ({exc.message}): connect the account again."
            else:
                locked.access_token = tokens.access_token
                locked.access_token_expires_at = _seconds_from_now(tokens.expires_in, now)
                if tokens.refresh_token:
                    locked.refresh_token = tokens.refresh_token
                if tokens.refresh_token_expires_in:
                    # Refreshing never extends a refresh token's life (365 days from consent):
                    # rounding of `refresh_token_expires_in` must not move it later either.
                    reported = _seconds_from_now(tokens.refresh_token_expires_in, now)
                    current = locked.refresh_token_expires_at
                    locked.refresh_token_expires_at = min(reported, current) if current else reported
                if tokens.scopes:
                    locked.scopes = list(tokens.scopes)
                locked.last_refreshed_at = now
                locked.status = LinkedInConnection.Status.ACTIVE
                locked.last_error = ""
                locked.refreshing_until = None
                locked.save()
                for attr in ("access_token", "access_token_expires_at", "refresh_token", "refresh_token_expires_at",
                             "scopes", "last_refreshed_at", "status", "last_error"):
                    setattr(connection, attr, getattr(locked, attr))
                return locked.access_token
    finally:
        LinkedInConnection.objects.filter(pk=connection.pk).update(refreshing_until=None)
    connection_mark_needs_reauth(connection=connection, reason=reason)
    raise NeedsReauthorization(reason)


def linkedin_client(connection: LinkedInConnection, **kwargs) -> LinkedInClient:
    """An API client for the connection that refreshes ahead of expiry and once on a 401.
    Raises NeedsReauthorization for a connection that is flagged or cannot be renewed."""
    if connection.status != LinkedInConnection.Status.ACTIVE:
        raise NeedsReauthorization(
            connection.last_error or f"LinkedIn connection {connection.name} needs re-authorisation."
        )
    margin = timedelta(hours=settings.LEADSYNC_TOKEN_REFRESH_MARGIN_HOURS)
    expires = connection.access_token_expires_at
    if expires is not None and expires - margin <= timezone.now():
        if connection.refresh_token or connection.access_token_expired():
            connection_refresh(connection=connection, failed_token=connection.access_token)

    def refresh(failed_token):
        return connection_refresh(connection=connection, failed_token=failed_token)

    kwargs.setdefault("retry", retry_policy())
    kwargs.setdefault("limiter", rate_limiter())
    kwargs.setdefault("budgets", linkedin_budgets(connection))
    return LinkedInClient.from_settings(access_token=connection.access_token, refresh=refresh, **kwargs)
