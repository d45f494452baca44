"""The API clients of stored connections, built from settings with the one retry policy. Nothing
else constructs a client for a connection (LinkedIn clients that renew their own token come from
`connectors.tokens.linkedin_client`)."""

import threading

from django.conf import settings

from connectors.crm.client import CrmClient
from connectors.exceptions import ConfigurationError, HostError
from connectors.http import RetryPolicy
from connectors.linkedin.oauth import LinkedInOAuth
from connectors.models import CrmConnection, LinkedInConnection
from connectors.ratelimit import LocalLimiter, RedisLimiter, limit_key

_limiters = {}
_limiters_lock = threading.Lock()


def retry_policy() -> RetryPolicy:
    """The one retry policy, tuned by LEADSYNC_RETRY_* settings."""
    return RetryPolicy(
        max_attempts=settings.LEADSYNC_RETRY_ATTEMPTS,
        base_delay=settings.LEADSYNC_RETRY_BASE_DELAY,
        max_delay=settings.LEADSYNC_RETRY_MAX_DELAY,
    )


def rate_limiter():
    """The limiter every API client of this process shares: in Redis (every worker of the fleet)
    when LEADSYNC_RATE_LIMIT_REDIS_URL is set, else in this process. One per configuration."""
    url, max_wait = settings.LEADSYNC_RATE_LIMIT_REDIS_URL, settings.LEADSYNC_RATE_LIMIT_MAX_WAIT
    with _limiters_lock:
        limiter = _limiters.get((url, max_wait))
        if limiter is None:
            limiter = RedisLimiter(url, max_wait=max_wait) if url else LocalLimiter()
            _limiters[(url, max_wait)] = limiter
        return limiter


def crm_client_for(api_url, *, account_id, secret_key, **kwargs) -> CrmClient:
    """A client for a CRM account, under the fleet's limits and the one retry policy."""
    kwargs.setdefault("retry", retry_policy())
    kwargs.setdefault("timeout", settings.LEADSYNC_HTTP_TIMEOUT)
    kwargs.setdefault("limiter", rate_limiter())
    kwargs.setdefault("daily_limit", settings.LEADSYNC_CRM_DAILY_LIMIT or None)
    return CrmClient(api_url, account_id=account_id, secret_key=secret_key, **kwargs)


def crm_client(connection: CrmConnection, **kwargs) -> CrmClient:
    """A client for the connection's CRM account (its stored endpoint and decrypted credentials)."""
    return crm_client_for(connection.api_url, account_id=connection.account_id,
                          secret_key=connection.secret_key, **kwargs)


def _limits_redis(operation):
    """`operation`'s answer; HostError (a clear sentence, no URL) when the limits' Redis is away."""
    from redis.exceptions import RedisError

    try:
        return operation()
    except RedisError as exc:
        raise HostError(f"The rate limits' Redis cannot be reached ({type(exc).__name__}).") from None


def crm_limits(connection: CrmConnection) -> dict | None:
    """What the shared limiter holds for the connection's CRM account (`RedisLimiter.status`), or
    None when the limits are kept per process. HostError when Redis cannot be reached."""
    limiter = rate_limiter()
    if not isinstance(limiter, RedisLimiter):
        return None
    key = limit_key("crm", crm_client(connection).safe_url, connection.account_id)
    return _limits_redis(lambda: limiter.status(key))


def crm_limits_clear(connection: CrmConnection) -> bool:
    """Lift the connection's pause after a 106 (and its block and today's count) in the shared
    limiter, e.g. once the CRM's vendor raised the daily limit; False when limits are per process."""
    limiter = rate_limiter()
    if not isinstance(limiter, RedisLimiter):
        return False
    key = limit_key("crm", crm_client(connection).safe_url, connection.account_id)
    _limits_redis(lambda: limiter.clear(key))
    return True


def linkedin_budgets(connection: LinkedInConnection):
    """The (key, calls a day) budgets a LinkedIn connection's calls draw on: its member's within the
    app, then the app's (LEADSYNC_LINKEDIN_MEMBER_DAILY_CALLS / _APP_DAILY_CALLS; 0: not counted,
    but a 429's Retry-After still holds every worker of the member back)."""
    app = settings.LINKEDIN_CLIENT_ID
    member = connection.member_urn or f"connection:{connection.pk}"
    budgets = [(limit_key("linkedin-member", app, member), settings.LEADSYNC_LINKEDIN_MEMBER_DAILY_CALLS or None)]
    if settings.LEADSYNC_LINKEDIN_APP_DAILY_CALLS:
        budgets.append((limit_key("linkedin-app", app), settings.LEADSYNC_LINKEDIN_APP_DAILY_CALLS))
    return budgets


def linkedin_oauth() -> LinkedInOAuth:
    """The OAuth client of the LinkedIn app; ConfigurationError without the app's credentials."""
    if not settings.LINKEDIN_CLIENT_ID or not settings.LINKEDIN_CLIENT_SECRET:
        raise ConfigurationError(
            "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET must be set (the LinkedIn app's credentials)."
        )
    return LinkedInOAuth.from_settings(retry=retry_policy())
