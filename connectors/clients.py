"""The API clients of stored connections, built from settings with the one retry policy. Nothing
else constructs a client for a connection (LinkedIn clients that renew their own token come from
`connectors.tokens.linkedin_client`)."""

from django.conf import settings

from connectors.crm.client import CrmClient
from connectors.exceptions import ConfigurationError
from connectors.http import RetryPolicy
from connectors.linkedin.oauth import LinkedInOAuth
from connectors.models import CrmConnection


def retry_policy() -> RetryPolicy:
    """The one retry policy, tuned by LEADSYNC_RETRY_* settings."""
    return RetryPolicy(
        max_attempts=settings.LEADSYNC_RETRY_ATTEMPTS,
        base_delay=settings.LEADSYNC_RETRY_BASE_DELAY,
        max_delay=settings.LEADSYNC_RETRY_MAX_DELAY,
    )


def crm_client(connection: CrmConnection, **kwargs) -> CrmClient:
    """A client for the connection's CRM account (its stored endpoint and decrypted credentials)."""
    kwargs.setdefault("retry", retry_policy())
    kwargs.setdefault("timeout", settings.LEADSYNC_HTTP_TIMEOUT)
    return CrmClient(connection.api_url, account_id=connection.account_id, secret_key=connection.secret_key, **kwargs)


def linkedin_oauth() -> LinkedInOAuth:
    """The OAuth client of the LinkedIn app; ConfigurationError without the app's credentials."""
    if not settings.LINKEDIN_CLIENT_ID or not settings.LINKEDIN_CLIENT_SECRET:
        raise ConfigurationError(
            "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET must be set (the LinkedIn app's credentials)."
        )
    return LinkedInOAuth.from_settings(retry=retry_policy())
