"""Client for the Lead Gen & CRM (formerly SharpSpring) JSON-RPC API.

The API's facts (limits, error codes, the lead object) are in `connectors.crm.schema`. The API is
one POST endpoint with both credentials in the query string,
so the real URL never leaves this object: errors, logs and `repr()` only show `safe_url`.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timezone
from functools import partial
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.exceptions import (
    BadPayload,
    CrmError,
    HostError,
    RateLimited,
    ServerError,
    Unauthorized,
)
from connectors.crm import schema
from connectors.ratelimit import LocalLimiter, limit_key
from connectors.http import DEFAULT_TIMEOUT, RetryPolicy, json_object, new_session, scrub, send, status_error

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectResult:
    """The CRM's answer for one object of a bulk write; `index` is its position in the input.

    `id` is the CRM id as a string: from the answer for creates, otherwise the `id` the caller sent
    (None for updates matched by email)."""

    index: int
    success: bool
    id: str | None
    error_code: int | None = None
    error_message: str | None = None
    error_detail: str | None = None  # the error's `data` (often names the field), shortened
    error_fields: tuple[str, ...] = ()  # the fields of the sent object the error names (see named_fields)


class _AnswerLost(Exception):
    """Carries an error out of `RetryPolicy.run` without retrying it (see `CrmClient._call`)."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def to_int(value):
    """`value` as an int (the CRM sends numbers as strings or numbers alike), or None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _detail(data, limit=300):
    """An error's `data` as one short line: operators see it beside the CRM's message."""
    if data in (None, "", [], {}):
        return None
    if isinstance(data, dict):
        text = ", ".join(f"{key}: {value}" for key, value in data.items())
    elif isinstance(data, list):
        text = ", ".join(map(str, data))
    else:
        text = str(data)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_NAME_KEYS = ("field", "fields", "systemName", "system_name", "name", "param", "params", "parameter")


def named_fields(error: dict, sent) -> tuple[str, ...]:
    """The fields of the `sent` object that a per-object `error` names, in the object's order.

    The shape of an error's `data` is not documented; what is seen names the field in several ways:
    `{"field": "firstName", "reason": …}`, `{"fields": [...]}`, `{"firstName": "too long"}`, a list
    or a bare string of names, or only the message ("Invalid parameters: firstName"). Every reading
    is tried, and only names the object really carries count (an error cannot be about a field that
    was not sent; `id` is never one: it says which lead, not what it holds)."""
    if not isinstance(sent, dict) or not isinstance(error, dict):
        return ()
    keys = [key for key in sent if key != "id"]
    named = set()

    def collect(value, depth=0):
        if depth > 3:
            return
        if isinstance(value, str):
            if value in sent:
                named.add(value)
        elif isinstance(value, list):
            for item in value[:50]:
                collect(item, depth + 1)
        elif isinstance(value, dict):
            for key, item in list(value.items())[:50]:
                if key in _NAME_KEYS:
                    collect(item, depth + 1)
                elif key in sent:
                    named.add(key)

    collect(error.get("data"))
    if not named:
        text = " ".join(part for part in (error.get("message"), error.get("data")) if isinstance(part, str))
        words = set(re.findall(r"[A-Za-z0-9_]+", text))
        named = {key for key in keys if key in words}
    return tuple(key for key in keys if key in named)


def _to_id(value):
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _format_timestamp(value):
    """v1.2 reads `Y-m-d H:i:s` as UTC; naive datetimes are taken to be UTC already."""
    if isinstance(value, str):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime(schema.TIMESTAMP_FORMAT)


class CrmClient:
    """One CRM account. Every call is throttled, checked against the documented envelope and turned
    into plain Python data or one of `connectors.exceptions`.

    What is retried (with `retry`): rate limits (107, 209) on every method, and timeouts, connection
    errors and 5xx on every method except the creates (`create_leads`, `create_fields`), which have
    no idempotency key (see `create_leads`). Errors 106 (daily limit) and bad credentials never are.

    The limits are the account's, not the object's: `limiter` (`connectors.ratelimit`) holds
    `max_rps` for every client of the account (`LocalLimiter`, the default: in this process; a
    `RedisLimiter`: in every worker of the fleet, and it counts `daily_limit` calls a day). A 107
    holds every client of the account back for a second, a 106 for `DAILY_LIMIT_PAUSE`.
    """

    # After a 106, nobody calls the account for this long; then one call finds out whether the CRM's
    # daily reset (its hour is not documented) has come.
    DAILY_LIMIT_PAUSE = 3600.0

    def __init__(self, api_url, *, account_id, secret_key, session=None, retry=None,
                 max_rps=schema.MAX_RPS, daily_limit=schema.MAX_DAILY_CALLS, timeout=DEFAULT_TIMEOUT,
                 limiter=None, clock=time.monotonic, sleep=time.sleep):
        """`retry` defaults to `RetryPolicy(sleep=sleep)`; `clock` and `sleep` drive the default limiter."""
        if not account_id or not secret_key:
            raise ValueError("The CRM account ID and secret key are both required.")
        if max_rps <= 0:
            raise ValueError("max_rps must be positive.")
        self._account_id = str(account_id)
        self._secret_key = str(secret_key)
        scheme, netloc, path, query, _ = urlsplit(api_url)
        params = [(k, v) for k, v in parse_qsl(query) if k not in ("accountID", "secretKey")]
        params += [("accountID", self._account_id), ("secretKey", self._secret_key)]
        self._url = urlunsplit((scheme, netloc, path, urlencode(params), ""))
        self.safe_url = urlunsplit((scheme, netloc, path, "", ""))
        self.session = session or new_session()
        self.retry = retry or RetryPolicy(sleep=sleep)
        self.max_rps = max_rps
        self.timeout = timeout
        self.daily_limit = daily_limit
        self.limiter = limiter or LocalLimiter(clock=clock, sleep=sleep)
        self._limit_key = limit_key("crm", self.safe_url, self._account_id)

    @classmethod
    def from_settings(cls, account_id, secret_key, api_url=None, **kwargs):
        """The endpoint comes from `settings.LEADGEN_CRM_API_URL` unless given (the sandbox uses it)."""
        if api_url is None:
            from django.conf import settings

            api_url = getattr(settings, "LEADGEN_CRM_API_URL", None) or schema.DEFAULT_API_URL
        return cls(api_url, account_id=account_id, secret_key=secret_key, **kwargs)

    def __repr__(self):
        return f"<{type(self).__name__} {self.safe_url}>"

    # --- fields -----------------------------------------------------------------------------------

    def check(self):
        """Cheapest real call: raises `Unauthorized` when the account ID / secret key are wrong."""
        self._call("getFields", {"where": {}, "limit": 1, "offset": 0})

    def get_fields(self, where=None, *, page_size=schema.MAX_OBJECTS):
        """All lead/opportunity/account fields matching `where` (keys: id, label, systemName,
        isCustom), each as the CRM gives it (values are strings)."""
        return self._pages("getFields", {"where": where or {}}, "field", page_size)

    def create_fields(self, objects):
        """Not retried when the answer is lost: a second try would add a twin field with another
        systemName. Look the label up with `get_fields` instead."""
        return self._bulk("createFields", "creates", objects, retry_lost=False)

    # --- leads: writes ----------------------------------------------------------------------------

    def create_leads(self, objects):
        """One `ObjectResult` per lead, in input order; a duplicate email is a per-object 301.

        Never retried once the request may have reached the CRM: on `HostError` (timeout, dropped
        connection) or `ServerError` the leads may or may not exist. The caller must look the
        emails up (`get_leads_by_email`) and `update_leads_v2` the ones that exist. Rate limits
        (107, 209) are retried: the CRM refused those requests before doing anything.
        """
        return self._bulk("createLeads", "creates", objects, retry_lost=False)

    def update_leads(self, objects):
        """Matched by `id`, else `emailAddress`. May report success while changing nothing (unknown
        id or email): prefer `update_leads_v2`. Retried, since writes overwrite."""
        return self._bulk("updateLeads", "updates", objects)

    def update_leads_v2(self, objects):
        """As `update_leads`, but an unknown id (or, without id, email) is a per-object 404, which
        makes it the safe half of an upsert. Retried, since writes overwrite."""
        return self._bulk("updateLeadsV2", "updates", objects)

    def delete_leads(self, ids):
        """Retried: a repeat of a delete that went through only yields per-object errors."""
        return self._bulk("deleteLeads", "deletes", [{"id": lead_id} for lead_id in ids])

    # --- leads: reads -----------------------------------------------------------------------------

    def get_lead(self, lead_id):
        """The lead as a dict (its `id` as a string), or None when the CRM has no such id."""
        leads = self._leads(self._call("getLead", {"id": lead_id}), "getLead")
        return leads[0] if leads else None

    def get_leads(self, where, fields=None, *, page_size=schema.MAX_OBJECTS):
        """Every lead matching `where` (`{"id": …}` or `{"emailAddress": …}`; `{}` is all leads),
        fetched page by page until a short page, since the CRM gives no total."""
        params = {"where": where} | ({"fields": list(fields)} if fields else {})
        return self._pages("getLeads", params, "lead", page_size, normalise=True)

    def get_leads_by_email(self, emails, fields=None):
        """`{email: lead}` for the emails the CRM knows (one call each, as given by the caller).

        This is how a caller recovers from a `create_leads` whose answer was lost."""
        found = {}
        for email in dict.fromkeys(e for e in emails if e):
            leads = self.get_leads({"emailAddress": email}, fields)
            if leads:
                found[email] = leads[0]
        return found

    def get_leads_date_range(self, start, end, timestamp="create", fields=None):
        """Leads created (or updated) between `start` and `end` (datetimes or `Y-m-d H:i:s` UTC
        strings). The CRM leaves inactive leads out and does not page this method."""
        if timestamp not in ("create", "update"):
            raise ValueError('timestamp must be "create" or "update".')
        params = {"startDate": _format_timestamp(start), "endDate": _format_timestamp(end),
                  "timestamp": timestamp} | ({"fields": list(fields)} if fields else {})
        return self._leads(self._call("getLeadsDateRange", params), "getLeadsDateRange")

    # --- plumbing ---------------------------------------------------------------------------------

    def _bulk(self, method, key, objects, *, retry_lost=True):
        objects = list(objects)
        if len(objects) > schema.MAX_OBJECTS:
            raise ValueError(f"{method} takes at most {schema.MAX_OBJECTS} objects a call, "
                             f"got {len(objects)}: split the batch.")
        if not objects:
            return []
        result = self._call(method, {"objects": objects}, retry_lost=retry_lost)
        entries = self._list(result, key, method)
        if len(entries) != len(objects):
            raise BadPayload(f"CRM {method} answered {len(entries)} results for {len(objects)} objects")
        return [self._object_result(method, key, i, entry, obj)
                for i, (entry, obj) in enumerate(zip(entries, objects))]

    def _object_result(self, method, key, index, entry, sent):
        if not isinstance(entry, dict):
            raise BadPayload(f"CRM {method}: result {index} is not an object")
        success = entry.get("success") in (True, "1", "true")
        error = entry.get("error")
        code, message, detail, fields = None, None, None, ()
        if isinstance(error, dict):
            code, message = to_int(error.get("code")), error.get("message")
            detail = _detail(error.get("data"))
            fields = named_fields(error, sent)
        elif error:
            message = str(error)
        lead_id = _to_id(entry.get("id"))
        if key == "creates":
            if success and lead_id is None:
                raise BadPayload(f"CRM {method}: created object {index} has no id")
        elif lead_id is None and isinstance(sent, dict):
            lead_id = _to_id(sent.get("id"))
        return ObjectResult(index, success, lead_id, code, self._scrub(message) if message else None,
                            self._scrub(detail) if detail else None, fields)

    def _pages(self, method, params, key, page_size, *, normalise=False):
        if not 1 <= page_size <= schema.MAX_OBJECTS:
            raise ValueError(f"page_size must be between 1 and {schema.MAX_OBJECTS}.")
        items, offset = [], 0
        while True:
            result = self._call(method, {**params, "limit": page_size, "offset": offset})
            page = self._leads(result, method) if normalise else self._list(result, key, method)
            items.extend(page)
            if len(page) < page_size or result.get("hasMore") is False:
                return items
            offset += len(page)

    def _leads(self, result, method):
        leads = self._list(result, "lead", method)
        if not all(isinstance(lead, dict) for lead in leads):
            raise BadPayload(f"CRM {method}: a lead is not an object")
        return [lead | {"id": _to_id(lead["id"])} if "id" in lead else lead for lead in leads]

    @staticmethod
    def _list(result, key, method):
        items = result.get(key)
        if not isinstance(items, list):
            raise BadPayload(f"CRM {method}: result.{key} is missing or not a list")
        return items

    def _call(self, method, params, *, retry_lost=True):
        """One JSON-RPC call under the retry policy; returns the envelope's `result` (a dict).

        With `retry_lost=False`, HostError and ServerError are raised at the first attempt, because
        the request may have been carried out; rate limits are still retried."""

        def attempt():
            try:
                return self._post(method, params)
            except (HostError, ServerError) as exc:
                if retry_lost:
                    raise
                raise _AnswerLost(exc) from None

        try:
            return self.retry.run(attempt, on_retry=partial(self._log_retry, method))
        except _AnswerLost as lost:
            raise lost.error from None

    def _post(self, method, params):
        request_id = uuid.uuid4().hex
        with self.limiter.slot(self._limit_key, rate=self.max_rps, daily=self.daily_limit, what=f"CRM {method}"):
            logger.debug("CRM %s (request %s) to %s", method, request_id, self.safe_url)
            response = send(self.session, "POST", self._url, timeout=self.timeout, safe_url=self.safe_url,
                            json={"method": method, "params": params, "id": request_id})
        try:
            return self._parse(method, request_id, response)
        except RateLimited as exc:
            # Whoever called too early, every client of the account waits (a RedisLimiter: fleet-wide).
            if exc.daily:
                self.limiter.exhaust(self._limit_key, self.DAILY_LIMIT_PAUSE)
            elif exc.retry_after:
                self.limiter.block(self._limit_key, exc.retry_after)
            raise

    def _parse(self, method, request_id, response):
        if response.status_code != 200:
            raise self._http_error(method, response)
        body = json_object(response, f"CRM {method}")
        echoed, error = body.get("id"), body.get("error")
        if echoed is not None and str(echoed) != request_id:
            raise BadPayload(f"CRM {method}: the answer's id does not match the request's")
        # An API-level error may come without an echoed id (e.g. 101, when the body was unreadable).
        if isinstance(error, dict):
            raise self._api_error(method, error)
        if echoed is None:
            raise BadPayload(f"CRM {method}: the answer has no id")
        if error is not None and not isinstance(error, list):
            raise BadPayload(f"CRM {method}: unexpected `error` of type {type(error).__name__}")
        # `error` null or [] is a success; a list holds per-object errors, read from result.*[i].
        result = body.get("result")
        if not isinstance(result, dict):
            raise BadPayload(f"CRM {method}: `result` is missing or not an object")
        return result

    def _http_error(self, method, response):
        status = response.status_code
        if status == 401:
            return Unauthorized("CRM rejected the account ID / secret key", reason="invalid", status=401)
        message = {429: f"CRM {method} was rate limited"}.get(
            status, f"CRM {method} failed on the CRM's side" if status >= 500 else f"CRM {method} was refused")
        return status_error(response, message, unexpected=f"CRM {method}: unexpected HTTP status")

    def _api_error(self, method, error):
        code = to_int(error.get("code"))
        detail = self._scrub(str(error.get("message") or "no message"))
        extra = {"code": code, "data": error.get("data")}
        if code in schema.AUTH_ERROR_CODES:
            return Unauthorized(f"CRM rejected the account ID / secret key: {detail}",
                                reason="invalid", **extra)
        if code == schema.DAILY_LIMIT_CODE:
            return RateLimited("CRM daily call limit reached: calls resume after the CRM's daily reset",
                               daily=True, **extra)
        if code in schema.RATE_LIMIT_CODES:
            # The limit is per second: a retry within the same second is refused again.
            return RateLimited(f"CRM {method} was rate limited: {detail}", retry_after=1.0, **extra)
        return CrmError(f"CRM {method} failed: {detail}", **extra)

    def _scrub(self, text):
        """The CRM's own messages are shown to operators: make sure they never echo a credential
        (an account id of a few digits would blank out ordinary numbers: it is left alone)."""
        return scrub(text, *(secret for secret in (self._secret_key, self._account_id) if len(secret) >= 4))

    def _log_retry(self, method, attempt, error, wait):
        logger.warning("CRM %s attempt %d failed (%s); retrying in %.1fs", method, attempt, error, wait)
