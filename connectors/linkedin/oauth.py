"""`LinkedInOAuth`: LinkedIn's 3-legged OAuth 2.0 endpoints for one app (authorization, code
exchange, refresh, introspection) and the answers they give (`TokenSet`, `TokenInfo`).

Every failure is one of `connectors.exceptions`; no message carries a token, a refresh token, a
code or the client secret. Importable without Django: only `from_settings` reads
`django.conf.settings`, lazily.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from connectors.exceptions import BadPayload, OAuthError
from connectors.http import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    json_object,
    json_or_empty,
    new_session,
    scrub,
    scrub_dict,
    send,
    status_error,
)

DEFAULT_OAUTH_URL = "https://www.linkedin.com/oauth/v2"


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint answer. Refresh fields are None for apps without programmatic refresh
    tokens; `scopes` is empty when LinkedIn did not repeat them (keep the ones you had)."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_in: int | None = None
    scopes: tuple = ()


@dataclass(frozen=True)
class TokenInfo:
    """An introspection answer. `status` is active|expired|revoked; an inactive token without
    a status reads as "expired", so the caller tries a refresh before asking for consent."""

    active: bool
    status: str
    expires_at: datetime | None
    scopes: tuple
    auth_type: str | None
    raw: dict = field(repr=False)


class LinkedInOAuth:
    """LinkedIn's 3-legged OAuth endpoints for one app.

    Calls are retried like API calls (timeouts, 5xx, 429). A 400/401 with an OAuth error body is
    an OAuthError carrying the OAuth `error` as `code`; `reauthorize` is True when only a new
    consent can help: any 400 on a refresh grant, or a description saying the grant or refresh
    token is invalid, expired or revoked.
    """

    # https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow
    # https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens
    # https://learn.microsoft.com/en-us/linkedin/shared/authentication/token-introspection
    AUTHORIZATION_PATH = "/authorization"
    TOKEN_PATH = "/accessToken"
    INTROSPECT_PATH = "/introspectToken"
    # Lead sync scopes (reference page, "OAuth"). Requesting another set invalidates earlier
    # tokens, so EVENT_SCOPE (legacy event leads) is opt-in: SCOPES + (EVENT_SCOPE,).
    SCOPES = (
        "r_marketing_leadgen_automation",
        "r_organization_admin",
        "r_ads",
        "r_events",
        "openid",
        "profile",
        "email",
    )
    EVENT_SCOPE = "r_events_leadgen_automation"

    def __init__(self, oauth_url, *, client_id, client_secret, session=None, retry=None, timeout=DEFAULT_TIMEOUT):
        self.oauth_url = oauth_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.session = session or new_session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout

    @classmethod
    def from_settings(cls, *, session=None, retry=None):
        from django.conf import settings

        return cls(
            getattr(settings, "LINKEDIN_OAUTH_URL", DEFAULT_OAUTH_URL),
            client_id=settings.LINKEDIN_CLIENT_ID,
            client_secret=settings.LINKEDIN_CLIENT_SECRET,
            session=session,
            retry=retry,
        )

    def __repr__(self):
        return f"<LinkedInOAuth {self.oauth_url} client_id={self.client_id}>"

    def authorization_url(self, redirect_uri, state, scopes=None):
        """Where to send the member for consent; LinkedIn comes back to `redirect_uri` with
        `code` and `state` (or `error`)."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": " ".join(self.SCOPES if scopes is None else scopes),
            },
            quote_via=quote,
        )
        return f"{self.oauth_url}{self.AUTHORIZATION_PATH}?{query}"

    def auto_approved_code(self, redirect_uri, state, scopes=None):
        """An authorization code without a person at the consent page: only for authorization
        servers that honour `auto_approve=1` (the LeadSync sandbox, in the demo and tests).
        LinkedIn itself always shows its consent screen."""
        url = self.authorization_url(redirect_uri, state, scopes) + "&auto_approve=1"
        response = send(self.session, "GET", url, timeout=self.timeout)
        location = response.headers.get("Location", "")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise BadPayload(f"LinkedIn OAuth {self.AUTHORIZATION_PATH}: no redirect (auto_approve not supported here)",
                             status=response.status_code)
        params = parse_qs(urlsplit(location).query)
        if params.get("state", [None])[0] != state:
            raise BadPayload(f"LinkedIn OAuth {self.AUTHORIZATION_PATH}: the redirect carries another state")
        if "error" in params:
            raise OAuthError(params.get("error_description", params["error"])[0], code=params["error"][0])
        if "code" not in params:
            raise BadPayload(f"LinkedIn OAuth {self.AUTHORIZATION_PATH}: the redirect carries no code")
        return params["code"][0]

    def exchange_code(self, code, redirect_uri):
        """Trade an authorization code (valid 30 minutes, single use) for tokens."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        return _token_set(self._post(self.TOKEN_PATH, data, secrets=(code,)))

    def refresh(self, refresh_token):
        """A new access token from a refresh token. The refresh token's own lifetime is not
        extended (`refresh_token_expires_in` decreases); OAuthError(reauthorize=True) once it
        is invalid, expired or revoked."""
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        return _token_set(self._post(self.TOKEN_PATH, data, secrets=(refresh_token,), refresh_grant=True))

    def introspect(self, token):
        """The token's state as LinkedIn sees it, with app credentials only (no member scope):
        the heartbeat that tells expired from revoked."""
        data = {"client_id": self.client_id, "client_secret": self.client_secret, "token": token}
        body = self._post(self.INTROSPECT_PATH, data, secrets=(token,))
        return _token_info(body)

    def _post(self, path, data, *, secrets, refresh_grant=False):
        url = f"{self.oauth_url}{path}"
        secrets = (*secrets, self.client_secret)

        def attempt():
            response = send(
                self.session, "POST", url, timeout=self.timeout, data=data, headers={"Accept": "application/json"}
            )
            if not 200 <= response.status_code < 300:
                raise self._error(response, path, secrets, refresh_grant)
            return response

        return json_object(self.retry.run(attempt), f"LinkedIn OAuth {path}")

    @staticmethod
    def _error(response, path, secrets, refresh_grant):
        status = response.status_code
        body = json_or_empty(response)
        error = body.get("error")
        description = body.get("error_description") or response.reason or "error"
        message = scrub(f"LinkedIn OAuth {path}: {description}", *secrets)
        kwargs = {"status": status, "code": error, "data": scrub_dict(body, *secrets) or None}
        if status in (400, 401):
            reauthorize = (refresh_grant and status == 400) or _grant_is_dead(description)
            return OAuthError(message, reauthorize=reauthorize, **kwargs)
        return status_error(response, message, **kwargs,
                            unexpected=f"LinkedIn OAuth {path}: unexpected HTTP {status} (redirects are not followed)")


_DEAD_GRANT = re.compile(r"(refresh[ _]token|grant).*\b(invalid|expired|revoked)\b", re.IGNORECASE | re.DOTALL)


def _grant_is_dead(description):
    return bool(_DEAD_GRANT.search(description or ""))


def parse_scopes(value):
    """LinkedIn separates scopes with commas (token and introspection answers) or spaces."""
    if not value:
        return ()
    return tuple(scope for scope in re.split(r"[\s,]+", str(value)) if scope)


def _int_field(body, name, what, *, required=False):
    value = body.get(name)
    if value is None:
        if required:
            raise BadPayload(f"{what}: no {name}")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadPayload(f"{what}: {name} is not a number") from None


def _token_set(body):
    what = "LinkedIn OAuth token answer"
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise BadPayload(f"{what}: no access_token")
    return TokenSet(
        access_token=access_token,
        expires_in=_int_field(body, "expires_in", what, required=True),
        refresh_token=body.get("refresh_token") or None,
        refresh_token_expires_in=_int_field(body, "refresh_token_expires_in", what),
        scopes=parse_scopes(body.get("scope")),
    )


def _token_info(body):
    what = "LinkedIn OAuth introspection answer"
    active, status = body.get("active"), body.get("status")
    if not isinstance(active, bool) and status is None:
        raise BadPayload(f"{what}: neither active nor status")
    if not isinstance(active, bool):
        active = status == "active"
    expires_at = _int_field(body, "expires_at", what)
    return TokenInfo(
        active=active,
        status=status or ("active" if active else "expired"),
        expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, tz=timezone.utc),
        scopes=parse_scopes(body.get("scope")),
        auth_type=body.get("auth_type"),
        raw=body,
    )
