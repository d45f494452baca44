"""The gate every simulated API call goes through, in LinkedIn's order: token, version headers,
fault switches, then the query. Everything that goes wrong comes back as a Rest.li error body.
"""

import functools
import json
import re

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import jsonio
from . import switches
from .models import AccessToken, TokenState
from .restli import RestliSyntaxError, parse_query, parse_urn

OLDEST_VERSION = 202401
DEFAULT_COUNT = 10
_VERSION = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")


class RestliError(Exception):
    """An error LinkedIn would answer; rendered as {status, serviceErrorCode?, code, message}."""

    def __init__(self, status, code, message, *, service_error_code=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.service_error_code = service_error_code
        self.headers = headers or {}

    def response(self):
        body = {"status": self.status}
        if self.service_error_code is not None:
            body["serviceErrorCode"] = self.service_error_code
        body.update(code=self.code, message=self.message)
        response = JsonResponse(body, status=self.status)
        response["X-RestLi-Error-Response"] = "true"
        for name, value in self.headers.items():
            response[name] = value
        return response


def illegal_argument(message):
    return RestliError(400, "ILLEGAL_ARGUMENT", message)


def not_found(message="Not found"):
    return RestliError(404, "RESOURCE_NOT_FOUND", message)


def access_denied(message):
    return RestliError(403, "ACCESS_DENIED", message)


def restli_json(data, status=200, headers=None):
    response = jsonio.response(data, status=status)
    response["X-RestLi-Protocol-Version"] = "2.0.0"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def authenticate(request):
    """The AccessToken of the call, or a 401 like LinkedIn's."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise RestliError(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2_access_token", service_error_code=65604)
    token = AccessToken.objects.select_related("grant__member").filter(token=value).first()
    if token is None:
        raise RestliError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", service_error_code=65600)
    status = token.status()
    if status == TokenState.REVOKED:
        raise RestliError(
            401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user",
            service_error_code=65601,
        )
    if status == TokenState.EXPIRED:
        raise RestliError(
            401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", service_error_code=65602
        )
    return token


def check_versioned_headers(request):
    version = request.headers.get("LinkedIn-Version")
    if not version:
        raise RestliError(
            400, "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        )
    if not _VERSION.match(version) or int(version) < OLDEST_VERSION:
        raise RestliError(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
    protocol = request.headers.get("X-Restli-Protocol-Version")
    if protocol != "2.0.0":
        raise illegal_argument(
            "This API requires Rest.li protocol 2.0.0: send the header X-Restli-Protocol-Version: 2.0.0"
            + (f" (got {protocol!r})" if protocol else "")
        )


class BadAnswer(Exception):
    """A fault switch's answer that is not JSON at all: sent as it is, with HTTP 200."""

    BODIES = {
        # The start of a real finder answer, cut off where a dropped proxy or a full buffer would.
        "truncated": b'{"elements":[{"id":"sandbox-cut-off","submittedAt":1700000000000,"formResponse":{"answ',
        "html": b"<html><head><title>Service Unavailable</title></head><body>Try again later.</body></html>",
    }

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind

    def response(self):
        content_type = "text/html" if self.kind == "html" else "application/json"
        response = HttpResponse(self.BODIES[self.kind], status=200, content_type=content_type)
        response["X-RestLi-Protocol-Version"] = "2.0.0"
        return response


def check_faults():
    """Spend one throttle, 5xx or bad-answer ticket, if any are loaded."""
    fault = switches.fault_consume()
    if fault is None:
        return
    if fault.kind == "bad_answer":
        raise BadAnswer(fault.bad_answer)
    if fault.kind == "throttle":
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        raise RestliError(
            429, "TOO_MANY_REQUESTS", "Resource level throttle limit for calls to this resource is reached.",
            headers=headers,
        )
    raise RestliError(fault.status, "INTERNAL_SERVER_ERROR", "Internal Server Error (sandbox fault switch)")


def api_view(methods=("GET",), *, versioned=True):
    """Wrap a view taking (request, params, *args): authenticates, checks headers and faults, parses
    the raw query string as Rest.li 2.0 and turns RestliError into LinkedIn's error body.

    The view finds the token on `request.li_token` and the member on `request.li_member`.
    """

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise RestliError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not supported here")
                request.li_token = authenticate(request)
                request.li_member = request.li_token.grant.member
                if versioned:
                    check_versioned_headers(request)
                check_faults()
                try:
                    params = parse_query(request.META.get("QUERY_STRING", ""))
                except RestliSyntaxError as exc:
                    raise illegal_argument(f"Invalid query: {exc}") from exc
                return view(request, params, *args, **kwargs)
            except (RestliError, BadAnswer) as error:
                return error.response()

        return wrapper

    return decorator


def require_scope(request, *any_of):
    granted = set(request.li_token.grant.scopes)
    if not granted.intersection(any_of):
        raise access_denied(
            f"Not enough permissions to access this resource: the token needs one of the scopes {', '.join(any_of)}"
        )


def json_body(request):
    try:
        body = json.loads(request.body or b"null")
    except ValueError as exc:
        raise illegal_argument(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise illegal_argument("Request body must be a JSON object")
    return body


# --- typed parameters -----------------------------------------------------------------------------


def required(params, name):
    if name not in params or params[name] == "":
        raise RestliError(400, "ILLEGAL_ARGUMENT", f"Parameter '{name}' is required")
    return params[name]


def finder(params, expected):
    q = required(params, "q")
    if q != expected:
        raise illegal_argument(f"Unknown finder q={q!r}; this resource supports q={expected}")


def int_param(params, name, default=None, minimum=0):
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value) or int(value) < minimum:
        raise illegal_argument(f"Parameter '{name}' must be an integer >= {minimum}, got {value!r}")
    return int(value)


def bool_param(params, name, default=False):
    value = params.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise illegal_argument(f"Parameter '{name}' must be true or false, got {value!r}")
    return value == "true"


def urn_value(value, name, *entity_types):
    """A URN from a decoded Rest.li string; rejects encoded-twice and wrong-type URNs."""
    urn = parse_urn(value)
    if urn is None or (entity_types and urn.entity_type not in entity_types):
        kinds = " or ".join(entity_types) or "a"
        raise illegal_argument(
            f"Invalid value for '{name}': {value!r} is not {kinds} URN (URNs must be percent-encoded once)"
        )
    return urn


def union_value(value, name, allowed):
    """A one-key Rest.li union such as (organization:urn%3Ali%3Aorganization%3A1) → (key, Urn); the key
    names the URN's entity type (organization, sponsoredAccount)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise illegal_argument(
            f"Invalid value for '{name}': expected a union like ({allowed[0]}:urn%3Ali%3A…), got {value!r}"
        )
    ((key, inner),) = value.items()
    if key not in allowed:
        raise illegal_argument(f"Invalid member '{key}' in '{name}'; expected one of {', '.join(allowed)}")
    return key, urn_value(inner, name, key)


# --- paging ---------------------------------------------------------------------------------------


_READ_CAP = object()


def paging_window(params, default_count=DEFAULT_COUNT, *, cap=_READ_CAP):
    """(start, count) of a finder call, count cut to the page size cap (read from the switches unless given)."""
    start = int_param(params, "start", 0)
    count = int_param(params, "count", default_count)
    if cap is _READ_CAP:
        cap = switches.page_size_cap()
    if cap:
        count = min(count, cap)
    return start, count


def _with_start(request, start, count):
    parts = [
        p for p in request.META.get("QUERY_STRING", "").split("&")
        if p and p.partition("=")[0] not in ("start", "count")
    ]
    parts += [f"start={start}", f"count={count}"]
    return f"{request.path}?{'&'.join(parts)}"


def paging(request, start, count, total, *, include_total=True):
    links = []
    if start > 0 and count:
        prev_start = max(0, start - count)
        links.append({"type": "application/json", "rel": "prev", "href": _with_start(request, prev_start, count)})
    if count and start + count < total:
        links.append({"type": "application/json", "rel": "next", "href": _with_start(request, start + count, count)})
    result = {"start": start, "count": count, "links": links}
    if include_total:
        result["total"] = total
    return result


def page(request, params, items, *, include_total=True, render=lambda x: x):
    """A finder answer over an already-filtered list: {elements, paging}."""
    start, count = paging_window(params)
    window = items[start : start + count]
    return {
        "elements": [render(item) for item in window],
        "paging": paging(request, start, count, len(items), include_total=include_total),
    }
