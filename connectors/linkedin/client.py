"""`LinkedInClient`: one member's access to LinkedIn's Rest.li Marketing API (the OAuth endpoints
are `connectors.linkedin.oauth`).

It returns LinkedIn's JSON as it came (elements, records): parsing answers, resolving option ids
and mapping fields belong to the callers. Every failure is one of `connectors.exceptions`; no
message carries a token. Importable without Django: only `from_settings` reads
`django.conf.settings`, lazily.
"""

from contextlib import ExitStack

from connectors.ahead import pages_ahead
from connectors.exceptions import BadPayload, Forbidden, NotFound, Unauthorized
from connectors.http import (
    DEFAULT_TIMEOUT,
    NO_RETRY,
    RetryPolicy,
    json_object,
    json_or_empty,
    new_session,
    scrub,
    scrub_dict,
    send,
    status_error,
)
from connectors.linkedin import urns
from connectors.linkedin.restli import build_query, encode_path_key, restli_list, restli_record

DEFAULT_API_URL = "https://api.linkedin.com"
DEFAULT_VERSION = "202601"
DEFAULT_PAGE_SIZE = 100


class LinkedInClient:
    """One member's access to the Marketing API (organizations, ad accounts, events, lead forms,
    lead form responses, lead notifications).

    GET and DELETE are retried by `retry` (timeouts, 5xx, 429 honouring Retry-After); POST is
    never retried, because a lost answer may hide a subscription that was created. On a 401 the
    optional `refresh(failed_token) -> new_token | None` callable is called once per request; when
    it returns a token the request is sent once more with it and the client keeps it
    (`access_token`), else the `Unauthorized` is raised; whatever `refresh` raises (e.g. an
    OAuthError asking for re-authorisation) propagates.

    With a `limiter` (`connectors.ratelimit`), every call first takes a slot of each of `budgets`
    (`(key, calls_a_day_or_None)` pairs: the member's first, then the app's), and a 429 with
    Retry-After blocks the first key for that long, for every client sharing the limiter (a
    RedisLimiter: every worker). LinkedIn publishes no per-second limit: calls are not paced.
    """

    # Paths of the versioned Lead Sync API:
    # https://learn.microsoft.com/en-us/linkedin/marketing/lead-sync/leadsync
    USERINFO_PATH = "/v2/userinfo"
    ME_PATH = "/v2/me"
    ORGANIZATION_ACLS_PATH = "/rest/organizationAcls"
    ORGANIZATIONS_PATH = "/rest/organizations"
    AD_ACCOUNTS_PATH = "/rest/adAccounts"
    EVENTS_PATH = "/rest/events"
    LEAD_FORMS_PATH = "/rest/leadForms"
    LEAD_FORM_RESPONSES_PATH = "/rest/leadFormResponses"
    LEAD_NOTIFICATIONS_PATH = "/rest/leadNotifications"
    RESTLI_PROTOCOL_VERSION = "2.0.0"
    # Give up on a finder that never ends (a server ignoring `start`, a cursor that loops).
    MAX_PAGES = 10_000

    def __init__(
        self,
        api_url,
        *,
        access_token,
        version=DEFAULT_VERSION,
        refresh=None,
        session=None,
        retry=None,
        page_size=DEFAULT_PAGE_SIZE,
        timeout=DEFAULT_TIMEOUT,
        limiter=None,
        budgets=(),
    ):
        self.api_url = api_url.rstrip("/")
        self.limiter = limiter
        self.budgets = tuple(budgets)
        self.access_token = access_token
        self.version = version
        self.refresh = refresh
        self.session = session or new_session()
        self.retry = retry or RetryPolicy()
        self.page_size = int(page_size)
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.timeout = timeout

    @classmethod
    def from_settings(cls, *, access_token, refresh=None, session=None, retry=None, limiter=None, budgets=()):
        from django.conf import settings

        return cls(
            getattr(settings, "LINKEDIN_API_URL", DEFAULT_API_URL),
            access_token=access_token,
            version=getattr(settings, "LINKEDIN_VERSION", DEFAULT_VERSION),
            refresh=refresh,
            session=session,
            retry=retry,
            page_size=getattr(settings, "LINKEDIN_PAGE_SIZE", DEFAULT_PAGE_SIZE),
            timeout=getattr(settings, "LEADSYNC_HTTP_TIMEOUT", DEFAULT_TIMEOUT),
            limiter=limiter,
            budgets=budgets,
        )

    def __repr__(self):
        return f"<LinkedInClient {self.api_url} version={self.version}>"

    # Members and organizations

    def userinfo(self):
        """The OpenID userinfo record (`sub`, `name`, `email`...); needs `openid profile [email]`,
        else Forbidden. A cheap member heartbeat."""
        return self._get(self.USERINFO_PATH)

    def me(self):
        """The member's `/v2/me` record; the heartbeat for tokens without the OpenID scopes."""
        return self._get(self.ME_PATH)

    def organization_acls(self, role=None):
        """Every APPROVED role assignment of the member (all pages), optionally one `role` only
        (e.g. "ADMINISTRATOR"). Elements as LinkedIn sends them: `organization` is a URN."""
        params = [("q", "roleAssignee"), ("state", "APPROVED"), ("role", role)]
        return self._all(self.ORGANIZATION_ACLS_PATH, params)

    def organizations(self, ids):
        """Batch get: `{id: record}` with string ids, for numeric ids or organization URNs.
        Organizations LinkedIn could not return (no access, deleted) are simply absent."""
        keys = list(dict.fromkeys(urns.urn_id(value, urns.ORGANIZATION) for value in ids))
        if not keys:
            return {}
        body = self._get(self.ORGANIZATIONS_PATH, build_query([("ids", restli_list(keys))]))
        results = body.get("results")
        if not isinstance(results, dict):
            raise BadPayload(f"LinkedIn GET {self.ORGANIZATIONS_PATH}: no results map")
        return {str(key): record for key, record in results.items()}

    def ad_accounts(self, *, status=("ACTIVE",), test=False):
        """Ad accounts the member can see, all pages. `status` (None: any) and `test`
        (None: both) filter in the search. Pages follow `start`/`count`, or LinkedIn's
        `metadata.nextPageToken` when the answer carries one (cursor paging since 202401)."""
        if isinstance(status, str):
            status = (status,)
        search = restli_record(
            status=restli_record(values=restli_list(status)) if status else None, test=test
        )
        params = [("q", "search"), ("search", search if search != "()" else None)]
        return self._all(self.AD_ACCOUNTS_PATH, params)

    def events(self, organization_urn):
        """Events organized by the organization (URN or numeric id), all pages. A `leadGenForm`
        on an element may be a leadGenForm or a versionedLeadGenForm URN."""
        urn = urns.as_urn(organization_urn, urns.ORGANIZATION)
        params = [("q", "eventsByOrganizer"), ("organizer", urn)]
        return self._all(self.EVENTS_PATH, params)

    # Lead forms and responses

    def lead_forms(self, owner_urn):
        """Every lead form of an organization or sponsoredAccount URN, all pages, questions inline."""
        params = [("q", "owner"), ("owner", _owner_record(owner_urn))]
        return self._all(self.LEAD_FORMS_PATH, params)

    def lead_form(self, form_id):
        """One lead form (latest version) by numeric id or leadGenForm URN."""
        return self._get(f"{self.LEAD_FORMS_PATH}/{encode_path_key(urns.urn_id(form_id, urns.LEAD_FORM))}")

    def lead_form_version(self, form_id, version):
        """One earlier version of a lead form, by its versionedLeadGenForm URN as the key
        (unverified on LinkedIn: callers fall back to the latest version when it is refused)."""
        urn = urns.versioned_form_urn(urns.urn_id(form_id, urns.LEAD_FORM), version)
        return self._get(f"{self.LEAD_FORMS_PATH}/{encode_path_key(urn)}")

    def lead_form_responses(
        self,
        owner_urn,
        lead_type,
        *,
        start_ms=None,
        end_ms=None,
        versioned_form_urn=None,
        associated_entity=None,
        limited_to_test_leads=None,
        ahead=0,
    ):
        """A generator of pages (lists of elements, never empty, in LinkedIn's order), so the
        caller can commit each page before the next is fetched. Arguments are checked at once;
        nothing is fetched until the first page is asked for.

        A page may be shorter than the page size with more to follow: the pull only ends on an
        empty page or once `start` reaches `paging.total`. Filters left as None are not sent;
        `start_ms`/`end_ms` bound `submittedAt` in epoch milliseconds; `associated_entity` is a
        URN such as `urn:li:event:123`. With `ahead`, up to that many pages are fetched ahead in a
        thread while the caller works on the page it has (connectors.ahead); a token refresh they
        need runs in the caller's thread, when it asks for its next page.
        """
        time_range = restli_record(start=start_ms, end=end_ms)
        params = [
            ("q", "owner"),
            ("owner", _owner_record(owner_urn)),
            ("leadType", restli_record(leadType=lead_type)),
            ("submittedAtTimeRange", time_range if time_range != "()" else None),
            ("versionedLeadGenFormUrn", versioned_form_urn),
            ("associatedEntity", associated_entity),
            ("limitedToTestLeads", limited_to_test_leads),
        ]
        # Each lead is checked storable when it is read (normalize_response): one that is not is
        # skipped alone instead of refusing its page.
        pages = self._pages(self.LEAD_FORM_RESPONSES_PATH, params, check=False)
        return pages_ahead(pages, depth=ahead, in_caller=self._hand_back) if ahead else pages

    def lead_form_responses_total(self, owner_urn, lead_type, *, start_ms, end_ms, versioned_form_urn=None):
        """How many responses the finder has for these filters, as LinkedIn counts them
        (`paging.total` of a one-element page), or None when the answer carries no total."""
        params = [
            ("q", "owner"), ("owner", _owner_record(owner_urn)), ("leadType", restli_record(leadType=lead_type)),
            ("submittedAtTimeRange", restli_record(start=start_ms, end=end_ms)),
            ("versionedLeadGenFormUrn", versioned_form_urn), ("count", 1), ("start", 0),
        ]
        body = self._get(self.LEAD_FORM_RESPONSES_PATH, build_query(params))
        _, paging, _ = _page_parts(body, f"LinkedIn GET {self.LEAD_FORM_RESPONSES_PATH}")
        return paging.get("total")

    def lead_form_response(self, response_id):
        """One response by id (e.g. to follow a CREATED notification)."""
        return self._get(f"{self.LEAD_FORM_RESPONSES_PATH}/{encode_path_key(response_id)}")

    # Lead notifications (webhooks)

    def create_lead_notification(
        self, webhook, owner_urn, lead_type, versioned_form_urn=None, associated_entity=None
    ):
        """Subscribe `webhook` to lead notifications and return the subscription id (the
        `x-restli-id` header, as a string). Not retried: after a failure list the subscriptions
        before creating again. `associated_entity` is a URN; its union key is its entity type."""
        body = {"webhook": webhook, "owner": urns.owner_union(owner_urn), "leadType": lead_type}
        if versioned_form_urn:
            body["versionedForm"] = versioned_form_urn
        if associated_entity:
            body["associatedEntity"] = {urns.urn_type(associated_entity): associated_entity}
        response = self._request("POST", self.LEAD_NOTIFICATIONS_PATH, json=body)
        subscription_id = response.headers.get("x-restli-id")
        if not subscription_id:
            raise BadPayload(
                f"LinkedIn POST {self.LEAD_NOTIFICATIONS_PATH}: no x-restli-id header",
                status=response.status_code,
            )
        return subscription_id

    def lead_notifications(self, owner_urn, lead_type):
        """The owner's subscriptions for one lead type, all pages."""
        owner = restli_record(value=restli_record(**urns.owner_union(owner_urn)))
        params = [("q", "criteria"), ("owner", owner), ("leadType", restli_record(leadType=lead_type))]
        return self._all(self.LEAD_NOTIFICATIONS_PATH, params)

    def delete_lead_notification(self, subscription_id):
        """Delete a subscription. A subscription that is already gone raises NotFound, which
        callers tearing down may treat as done."""
        self._request("DELETE", f"{self.LEAD_NOTIFICATIONS_PATH}/{encode_path_key(subscription_id)}")

    # Plumbing

    def _all(self, path, params):
        return [element for page in self._pages(path, params) for element in page]

    def _pages(self, path, params, *, check=True):
        """Yield the non-empty pages of a Rest.li finder.

        Index paging: `start` advances by `count` (LinkedIn's rule, or the server's smaller
        `paging.count`), not by the page's length, since a short page can have more behind it.
        With `paging.total` the end is `start >= total`; without it (organizationAcls) a short
        page is the last one. Cursor paging (`metadata.nextPageToken`) ends when no token comes.
        An empty page always ends it; a page equal to the previous one means the server ignores
        paging and raises BadPayload, as does exceeding MAX_PAGES.
        """
        start, token, previous = 0, None, None
        for _ in range(self.MAX_PAGES):
            query = build_query(
                [*params, ("count", self.page_size), ("start", None if token else start), ("pageToken", token)]
            )
            body = self._get(path, query, check=check)
            elements, paging, next_token = _page_parts(body, f"LinkedIn GET {path}")
            if not elements:
                return
            if elements == previous:
                raise BadPayload(f"LinkedIn GET {path}: the same page came back twice")
            yield elements
            previous = elements
            if token or next_token:
                if not next_token:
                    return
                token = next_token
                continue
            count = paging.get("count")
            start += count if _is_int(count) and 0 < count < self.page_size else self.page_size
            total = paging.get("total")
            if total is not None:
                if start >= total:
                    return
            elif len(elements) < self.page_size:
                return
        raise BadPayload(f"LinkedIn GET {path}: more than {self.MAX_PAGES} pages")

    def _get(self, path, query=None, *, check=True):
        return json_object(self._request("GET", path, query), f"LinkedIn GET {path}", check=check)

    def _request(self, method, path, query=None, json=None):
        """Send one API call, with retries and at most one token refresh; return the response
        of a 2xx, raise our exception for anything else."""
        url = f"{self.api_url}{path}" + (f"?{query}" if query else "")
        policy = NO_RETRY if method == "POST" else self.retry

        def attempt():
            return self._send(method, url, path, json)

        try:
            return policy.run(attempt)
        except Unauthorized:
            if self.refresh is None:
                raise
            failed = self.access_token
            token = self._refreshed(failed)
            if not token or token == failed:
                raise
            self.access_token = token
        return policy.run(attempt)

    def _hand_back(self, run_in_caller):
        """While pages are fetched ahead (connectors.ahead): how to run a refresh in the caller's thread."""
        self._in_caller = run_in_caller

    def _refreshed(self, failed):
        refresh, in_caller = self.refresh, getattr(self, "_in_caller", None)
        return in_caller(lambda: refresh(failed)) if in_caller else refresh(failed)

    def _send(self, method, url, path, json):
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": self.RESTLI_PROTOCOL_VERSION,
            "Accept": "application/json",
        }
        with ExitStack() as slots:
            if self.limiter is not None:
                for key, daily in self.budgets:
                    slots.enter_context(self.limiter.slot(key, daily=daily, what=f"LinkedIn {method} {path}"))
            response = send(self.session, method, url, timeout=self.timeout, headers=headers, json=json,
                            what=f"LinkedIn {method} {path}")
        if not 200 <= response.status_code < 300:
            error = self._error(response, method, path)
            if self.limiter is not None and self.budgets and getattr(error, "retry_after", None):
                self.limiter.block(self.budgets[0][0], error.retry_after)
            raise error
        return response

    def _error(self, response, method, path):
        status = response.status_code
        body = json_or_empty(response)
        code = body.get("code")
        service_code = body.get("serviceErrorCode")
        text = body.get("message") or response.reason or "error"
        message = scrub(f"LinkedIn {method} {path}: {text}", self.access_token)
        data = scrub_dict(body, self.access_token) or None
        kwargs = {"status": status, "code": code, "service_error_code": service_code, "data": data}
        if status == 401:
            return Unauthorized(message, reason=_unauthorized_reason(code, service_code), **kwargs)
        if status == 403:
            return Forbidden(message, **kwargs)
        if status == 404:
            return NotFound(message, **kwargs)
        return status_error(response, message, **kwargs,
                            unexpected=f"LinkedIn {method} {path}: unexpected HTTP {status} (redirects are not followed)")


# --- helpers ---------------------------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _owner_record(owner_urn):
    return restli_record(**urns.owner_union(owner_urn))


def _unauthorized_reason(code, service_code):
    if code == "EXPIRED_ACCESS_TOKEN" or service_code == 65602:
        return "expired"
    if code == "REVOKED_ACCESS_TOKEN" or service_code == 65601:
        return "revoked"
    return "invalid"


def _page_parts(body, what):
    elements = body.get("elements")
    if not isinstance(elements, list):
        raise BadPayload(f"{what}: no elements list")
    paging = body.get("paging") or {}
    metadata = body.get("metadata") or {}
    if not isinstance(paging, dict) or not isinstance(metadata, dict):
        raise BadPayload(f"{what}: paging is not an object")
    total = paging.get("total")
    if total is not None and not _is_int(total):
        raise BadPayload(f"{what}: paging.total is not an integer")
    return elements, paging, metadata.get("nextPageToken")
