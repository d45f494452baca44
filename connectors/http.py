"""The one HTTP path and the one retry policy shared by every API client.

`send()` is the only place that calls `requests`: it sets a timeout, never follows redirects and
turns transport failures into `HostError`. `json_object()` reads an answer's JSON body and `scrub()`
takes secrets out of anything an error may show, for every client alike. `RetryPolicy.run()` retries what is worth retrying
(exceptions with `retryable = True`: timeouts, connection errors, 5xx, 429) with capped
exponential backoff, honouring `Retry-After` when the service sent one; everything else (other
4xx, bad payloads) is raised at once. When the attempts run out the last error is raised, so the
caller can mark its run failed and say why.
"""

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import requests
from urllib3.exceptions import ProtocolError

from connectors.exceptions import BadPayload, BadRequest, HostError, RateLimited, ServerError
from connectors.payloads import loads

DEFAULT_TIMEOUT = (5, 60)  # (connect, read) seconds


def new_session(user_agent="LeadSync"):
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    return session


def send(session, method, url, *, timeout=DEFAULT_TIMEOUT, safe_url=None, what=None, **kwargs):
    """Send one request. `safe_url` is what error messages may show (never a URL with secrets);
    `what` names the call in them instead (e.g. "LinkedIn GET /rest/x")."""
    what = what or f"{method} {safe_url or url.split('?', 1)[0]}"
    try:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout:
        raise HostError(f"{what} timed out") from None
    except requests.exceptions.ChunkedEncodingError:
        raise HostError(f"{what}: the connection broke off in the middle of the answer") from None
    except requests.ConnectionError as exc:
        if exc.args and isinstance(exc.args[0], ProtocolError):  # connected, then reset or closed
            raise HostError(f"{what}: the connection was dropped before the answer came") from None
        raise HostError(f"{what}: could not connect") from None
    except requests.RequestException as exc:
        raise HostError(f"{what} failed: {type(exc).__name__}") from None


def json_object(response, what, *, check=True):
    """The answer's body as a JSON object that can be stored as it is (see connectors.payloads), or
    BadPayload naming `what` (e.g. "LinkedIn GET /rest/x"). Without `check` the caller checks
    what it keeps of it (leads, one by one, so one bad lead does not refuse its page)."""
    body = loads(response.content, what=what, status=response.status_code, check=check)
    if not isinstance(body, dict):
        raise BadPayload(f"{what}: the answer is not a JSON object", status=response.status_code)
    return body


def json_or_empty(response):
    """The body of an error answer as a JSON object, or {} when it is not one: error bodies are
    read for their details, never trusted to be well formed."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


SCRUBBED = "[redacted]"


def scrub(text, *secrets):
    """`text` with every secret (token, key, authorization code) replaced: services sometimes echo
    what they were sent, and their messages reach logs and the admin."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, SCRUBBED)
    return text


def scrub_dict(body, *secrets):
    """A flat error body with `scrub` applied to its string values."""
    return {key: scrub(value, *secrets) if isinstance(value, str) else value for key, value in body.items()}


def parse_retry_after(value):
    """Seconds from a Retry-After header (delta-seconds only; HTTP dates are ignored)."""
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def status_error(response, message, *, unexpected, **kwargs):
    """The generic exception for a failed HTTP answer: 429 RateLimited (with Retry-After), 5xx
    ServerError, other 4xx BadRequest, anything else (e.g. a redirect, never followed) BadPayload
    with the `unexpected` message. Clients handle their service's specific statuses first."""
    status = response.status_code
    kwargs.setdefault("status", status)
    if status == 429:
        return RateLimited(message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    if status >= 400:
        return BadRequest(message, **kwargs)
    return BadPayload(unexpected, status=status)


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt, error=None):
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_delay)
        backoff = self.base_delay * (2 ** (attempt - 1))
        return min(backoff, self.max_delay) * (0.5 + random.random() / 2)

    def run(self, fn, *, on_retry=None):
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - filtered just below
                if not getattr(exc, "retryable", False) or attempt >= self.max_attempts:
                    raise
                if isinstance(exc, RateLimited) and exc.daily:
                    raise
                wait = self.delay(attempt, exc)
                if on_retry is not None:
                    on_retry(attempt, exc, wait)
                self.sleep(wait)


NO_RETRY = RetryPolicy(max_attempts=1)
