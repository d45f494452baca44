"""Our own exceptions for everything that can go wrong talking to LinkedIn or the CRM.

API clients translate HTTP and transport failures into these, so callers never see `requests`
exceptions and never need to parse status codes. Messages are safe to log and to show in the
admin: they never contain tokens, secrets or URLs with credentials in their query string.

Every error an operation may end with is a `LeadSyncError`: the CLI turns it into exit 1 and the
admin into an error message, with its text as it is.
"""


class LeadSyncError(Exception):
    """An operation could not do its job. The message says why, in words an operator can act on,
    and never carries a secret."""


class NeedsReauthorization(LeadSyncError):
    """The connection's tokens can no longer be renewed: a person must connect LinkedIn again."""


class ConfigurationError(LeadSyncError):
    """A setting the operation needs is missing; the message says which."""


class ApiError(LeadSyncError):
    """Base class. `status` is the HTTP status when there was one; `code` the service's error code."""

    retryable = False

    def __init__(self, message, *, status=None, code=None, service_error_code=None, data=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.service_error_code = service_error_code
        self.data = data

    def __str__(self):
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code not in (None, ""):
            parts.append(f"code {self.code}")
        return " ".join([parts[0]] + ([f"({', '.join(parts[1:])})"] if len(parts) > 1 else []))


class Unauthorized(ApiError):
    """The access token is missing, invalid, expired or revoked (LinkedIn 401, or CRM bad credentials).

    `reason` is one of "expired", "revoked", "invalid" so the token heartbeat can tell them apart.
    """

    def __init__(self, message, *, reason="invalid", **kwargs):
        super().__init__(message, **kwargs)
        self.reason = reason


class Forbidden(ApiError):
    """403: a scope or an organization role is missing."""


class NotFound(ApiError):
    """404: wrong id/URN, or the member has no access to it."""


class BadRequest(ApiError):
    """Any other 4xx: our request was wrong. Never retried."""


class RateLimited(ApiError):
    """429 (LinkedIn) or error 107/106/209 in a CRM body. `retry_after` in seconds when known.

    `daily` is True when the limit only resets at the next daily reset (CRM 106): retrying
    within this run is pointless.
    """

    retryable = True

    def __init__(self, message, *, retry_after=None, daily=False, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.daily = daily


class ServerError(ApiError):
    """5xx from the service."""

    retryable = True


class HostError(ApiError):
    """The service could not be reached: connection refused, DNS, TLS, timeout."""

    retryable = True


class BadPayload(ApiError):
    """The service answered something that breaks the documented contract (not JSON, wrong shape,
    a mismatched request id, the wrong number of per-object results...)."""


class OAuthError(ApiError):
    """The OAuth token endpoint refused a grant. `code` carries the OAuth `error`
    (e.g. "invalid_request", "invalid_redirect_uri"); `reauthorize` is True when only a new
    consent can fix it (refresh token invalid, expired or revoked)."""

    def __init__(self, message, *, reauthorize=False, **kwargs):
        super().__init__(message, **kwargs)
        self.reauthorize = reauthorize


class CrmError(ApiError):
    """An API-level error in the CRM's JSON envelope (`error: {code, message, data}`)."""
