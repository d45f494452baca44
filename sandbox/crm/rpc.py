"""The JSON-RPC protocol of the Lead Gen & CRM endpoint: credentials, envelope, limits, method table.

Follows the vendor's API documentation. The order of the checks is the real service's as far as it is
known: the account is resolved from the query string before the body is read (a wrong key pair gets the
plain-text 401 whatever the body), then the body, then the limits, then the method. Every call, answered
or refused, is logged in CrmCall without the secret key.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.utils import timezone
from django.utils.crypto import constant_time_compare

from sandbox import db as sandbox_db
from sandbox import jsonio
from . import selectors, services
from .models import HOLD_ANSWER_SECONDS, CrmAccount, CrmFault

UNAUTHORIZED_TEXT = "Unable to determine clusterID from provided accountID/secretKey"
MAX_OBJECTS = 500
MAX_LIMIT = 500
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

MESSAGES = {
    101: "Invalid request data format",
    102: "Missing request id",
    103: "Missing account id",
    104: "Missing secret key",
    106: "Daily call limit exceeded",
    107: "Per-second call limit exceeded",
    201: "Invalid method",
    205: "Invalid parameters",
    206: "Missing parameters",
    207: "Missing objects array",
}


class RpcError(Exception):
    """The call fails as a whole: the envelope's `error` is this object."""

    def __init__(self, code, message=None, data=None):
        self.code = code
        self.message = message or MESSAGES.get(code, "Unknown error")
        self.data = data
        super().__init__(f"{code} {self.message}")

    def as_dict(self):
        return {"code": self.code, "message": self.message, "data": self.data}


@dataclass
class RpcAnswer:
    """What the view sends: a JSON envelope, or plain text for the 401 and the simulated 5xx."""

    status: int = 200
    payload: dict | None = None
    text: str | None = None
    delay_ms: int = 0


def _envelope(request_id, *, result=None, error=None):
    return {"result": result, "error": error, "id": request_id}


def _error_answer(exc: RpcError, request_id):
    return RpcAnswer(payload=_envelope(request_id, error=exc.as_dict()))


# --- params --------------------------------------------------------------------------------------------------


def _hash(params, name, *, required):
    if name not in params or params[name] is None:
        if required:
            raise RpcError(206, f"Missing parameters: {name}")
        return {}
    value = params[name]
    if value == []:  # PHP clients send an empty hash as []
        return {}
    if not isinstance(value, dict):
        raise RpcError(205, f"Invalid parameters: {name} must be a hash")
    return value


def _int(params, name, *, default, minimum=0, maximum=None):
    value = params.get(name)
    if value in (None, ""):
        return default
    number = services.parse_int(value)
    if number is None or number < minimum:
        raise RpcError(205, f"Invalid parameters: {name} must be an integer of at least {minimum}")
    return min(number, maximum) if maximum is not None else number


def _objects(params):
    objects = params.get("objects")
    if not isinstance(objects, list):
        raise RpcError(207)
    if len(objects) > MAX_OBJECTS:
        raise RpcError(
            205,
            f"Invalid parameters: at most {MAX_OBJECTS} objects per call, got {len(objects)}",
            {"maxObjects": MAX_OBJECTS, "objects": len(objects)},
        )
    return objects


def _only(params, account):
    fields = params.get("fields")
    if fields in (None, "", []):
        return None
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise RpcError(205, "Invalid parameters: fields must be a list of systemNames")
    catalogue = services.lead_catalogue(account=account)
    unknown = [f for f in fields if f not in catalogue]
    if unknown:
        raise RpcError(205, f"Invalid parameters: no such field: {', '.join(unknown)}", {"fields": unknown})
    return set(fields)


def _list_of(value, convert, name):
    values = value if isinstance(value, list) else [value]
    converted = [convert(v) for v in values]
    if any(v is None for v in converted):
        raise RpcError(205, f"Invalid parameters: where.{name}")
    return converted


def _timestamp(params, name):
    if params.get(name) in (None, ""):
        raise RpcError(206, f"Missing parameters: {name}")
    try:
        return datetime.strptime(str(params[name]), TIMESTAMP_FORMAT).replace(tzinfo=dt_timezone.utc)
    except ValueError as exc:
        raise RpcError(205, f"Invalid parameters: {name} must be Y-m-d H:i:s (UTC)") from exc


def _bulk(key, entries):
    # Top-level error: [] when every object succeeded, else the failed objects' errors without indexes.
    return {key: entries}, [entry["error"] for entry in entries if not entry["success"]]


# --- methods -------------------------------------------------------------------------------------------------


def _get_fields(account, params, now):
    where = _hash(params, "where", required=False)
    unknown = set(where) - {"id", "label", "systemName", "isCustom"}
    if unknown:
        raise RpcError(205, f"Invalid parameters: where.{sorted(unknown)[0]}")
    field_id = None
    if "id" in where:
        field_id = services.parse_int(where["id"])
        if field_id is None:
            raise RpcError(205, "Invalid parameters: where.id")
    for name in ("label", "systemName"):
        if name in where and not isinstance(where[name], str):
            raise RpcError(205, f"Invalid parameters: where.{name}")
    is_custom = services.parse_flag(where["isCustom"]) if "isCustom" in where else None
    fields = selectors.fields_list(
        account=account,
        field_id=field_id,
        label=where.get("label"),
        system_name=where.get("systemName"),
        is_custom=is_custom,
        limit=_int(params, "limit", default=None, minimum=1),
        offset=_int(params, "offset", default=0),
    )
    return {"field": fields}, None


def _create_fields(account, params, now):
    return _bulk("creates", services.fields_create(account=account, objects=_objects(params)))


def _delete_fields(account, params, now):
    return _bulk("deletes", services.fields_delete(account=account, objects=_objects(params)))


def _create_leads(account, params, now):
    return _bulk("creates", services.leads_create(account=account, objects=_objects(params), now=now))


def _update_leads(account, params, now):
    return _bulk("updates", services.leads_update(account=account, objects=_objects(params), strict=False, now=now))


def _update_leads_v2(account, params, now):
    return _bulk("updates", services.leads_update(account=account, objects=_objects(params), strict=True, now=now))


def _delete_leads(account, params, now):
    return _bulk("deletes", services.leads_delete(account=account, objects=_objects(params)))


def _get_lead(account, params, now):
    if params.get("id") in (None, ""):
        raise RpcError(206, "Missing parameters: id")
    lead_id = services.parse_int(params["id"])
    if lead_id is None:
        raise RpcError(205, "Invalid parameters: id")
    return {"lead": selectors.leads_list(account=account, ids=[lead_id], limit=1)}, None


def _get_leads(account, params, now):
    where = _hash(params, "where", required=True)
    unknown = set(where) - {"id", "emailAddress"}
    if unknown:
        raise RpcError(205, f"Invalid parameters: where.{sorted(unknown)[0]}", {"where": sorted(unknown)})
    ids = _list_of(where["id"], services.parse_int, "id") if "id" in where else None
    emails = _list_of(where["emailAddress"], lambda v: v if isinstance(v, str) else None, "emailAddress") if (
        "emailAddress" in where
    ) else None
    leads = selectors.leads_list(
        account=account,
        ids=ids,
        emails=emails,
        limit=_int(params, "limit", default=MAX_LIMIT, minimum=1, maximum=MAX_LIMIT),
        offset=_int(params, "offset", default=0),
        only=_only(params, account),
    )
    return {"lead": leads}, None


def _get_leads_date_range(account, params, now):
    start, end = _timestamp(params, "startDate"), _timestamp(params, "endDate")
    if params.get("timestamp") in (None, ""):
        raise RpcError(206, "Missing parameters: timestamp")
    if params["timestamp"] not in ("create", "update"):
        raise RpcError(205, 'Invalid parameters: timestamp must be "create" or "update"')
    leads = selectors.leads_in_date_range(
        account=account, start=start, end=end, timestamp=params["timestamp"], only=_only(params, account)
    )
    return {"lead": leads}, None


def _subscribe_to_lead_updates(account, params, now):
    url = params.get("url")
    if url in (None, ""):
        raise RpcError(206, "Missing parameters: url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500:
        raise RpcError(205, "Invalid parameters: url")
    services.lead_updates_subscribe(account=account, url=url)
    return {"success": True}, None


def _get_events(account, params, now):
    # The sandbox records no lead events (page visits, email opens): the answer is always an empty page.
    _hash(params, "where", required=True)
    _int(params, "limit", default=MAX_LIMIT, minimum=1)
    _int(params, "offset", default=0)
    return {"event": []}, None


METHODS = {
    "getFields": _get_fields,
    "createFields": _create_fields,
    "deleteFields": _delete_fields,
    "createLeads": _create_leads,
    "updateLeads": _update_leads,
    "updateLeadsV2": _update_leads_v2,
    "deleteLeads": _delete_leads,
    "getLead": _get_lead,
    "getLeads": _get_leads,
    "getLeadsDateRange": _get_leads_date_range,
    "subscribeToLeadUpdates": _subscribe_to_lead_updates,
    "getEvents": _get_events,
}


# --- the call ------------------------------------------------------------------------------------------------


def _parse_body(raw_body):
    try:
        body = jsonio.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _authenticate(account_ref, secret):
    account = CrmAccount.objects.filter(account_id=account_ref).first()
    if account is None or not constant_time_compare(secret, account.secret_key):
        return None
    return account


def _limit_error(account, now):
    if account.daily_limit:
        midnight = now.astimezone(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        if selectors.calls_since(account=account, since=midnight, until=now) >= account.daily_limit:
            return RpcError(106)
    if account.per_second_limit:
        # A window of just under one second, so a client spacing its calls exactly 1/limit apart passes.
        window_start = now - timedelta(microseconds=999_999)
        if selectors.calls_since(account=account, since=window_start, until=now) >= account.per_second_limit:
            return RpcError(107)
    return None


def _answer(*, account, body, log, now):
    """The answer to an authenticated call; `log` collects what the call record needs."""
    if body is None:
        return _error_answer(RpcError(101), None)
    request_id = body.get("id")
    if request_id is None or request_id == "":
        return _error_answer(RpcError(102), None)

    for switch, outcome in (
        ("fail_next_calls", None),
        ("throttle_next_calls", RpcError(107)),
        ("daily_limit_next_calls", RpcError(106)),
    ):
        if services.fault_consume(account=account, switch=switch):
            log["fault"] = switch
            if outcome is None:
                return RpcAnswer(status=500, text="Internal Server Error")
            return _error_answer(outcome, request_id)
    limit_error = _limit_error(account, now)
    if limit_error:
        return _error_answer(limit_error, request_id)

    method = body.get("method")
    handler = METHODS.get(method) if isinstance(method, str) else None
    if handler is None:
        return _error_answer(RpcError(201, f"Invalid method: {method!r}"), request_id)
    if "params" not in body or body["params"] is None:
        return _error_answer(RpcError(206, "Missing parameters: params"), request_id)
    params = {} if body["params"] == [] else body["params"]
    if not isinstance(params, dict):
        return _error_answer(RpcError(205, "Invalid parameters: params must be a hash"), request_id)
    if isinstance(params.get("objects"), list):
        log["object_count"] = len(params["objects"])

    try:
        with sandbox_db.atomic():
            result, error = handler(account, params, now)
    except RpcError as exc:
        return _error_answer(exc, request_id)
    answer = RpcAnswer(payload=_envelope(request_id, result=result, error=error))
    if services.fault_consume(account=account, switch="drop_next_answers"):
        log["fault"] = "drop_next_answers"
        log["response"] = answer.payload
        return RpcAnswer(status=502, text="Bad Gateway")
    if services.fault_countdown(account=account, switch="hold_answer_of_call"):
        # The work is committed and the call is logged before the view holds the answer back.
        log["fault"] = "hold_answer_of_call"
        answer.delay_ms = HOLD_ANSWER_SECONDS * 1000
    return answer


def _summary(payload, status, log):
    if payload is None:
        return f"HTTP {status}"
    error = payload.get("error")
    if isinstance(error, dict):
        text = f"error {error['code']}: {error['message']}"
    elif log.get("object_count") is not None:
        failed = error or []
        codes = sorted({e["code"] for e in failed})
        text = f"{log['object_count']} objects, {len(failed)} failed"
        text += f" ({', '.join(map(str, codes))})" if codes else ""
    else:
        text = "ok"
    if status != 200:
        text = f"HTTP {status} sent instead of: {text}"
    return text[:255]


def rpc_handle(*, query, raw_body, now=None):
    """Answer one POST to the endpoint. `query` is the query string (accountID, secretKey), `raw_body` the
    request body as bytes; `now` is for tests that need a fixed clock for the per-second limit."""
    now = now or timezone.now()
    body = _parse_body(raw_body)
    request_id = body.get("id") if body else None
    account_ref = str(query.get("accountID", "")).strip()
    secret = str(query.get("secretKey", ""))
    log = {}

    account = None
    if not account_ref:
        answer = _error_answer(RpcError(103), request_id)
    elif not secret:
        answer = _error_answer(RpcError(104), request_id)
    else:
        account = _authenticate(account_ref, secret)
        if account is None:
            answer = RpcAnswer(status=401, text=UNAUTHORIZED_TEXT)
        else:
            answer = _answer(account=account, body=body, log=log, now=now)
            fault = CrmFault.objects.filter(account=account).only("slow_answer_ms").first()
            answer.delay_ms = max(answer.delay_ms, fault.slow_answer_ms if fault else 0)

    # For a dropped answer, log what the product would have received: the work was done.
    payload = log.get("response", answer.payload)
    error = payload.get("error") if payload else None
    services.call_record(
        account=account,
        account_ref=account_ref[:64],
        method=str(body.get("method", ""))[:64] if body else "",
        request_id="" if request_id is None else str(request_id)[:100],
        object_count=log.get("object_count"),
        failed_count=len(error) if isinstance(error, list) else 0,
        http_status=answer.status,
        error_code=error.get("code") if isinstance(error, dict) else None,
        fault=log.get("fault", ""),
        summary=_summary(payload, answer.status, log),
        request=body if body is not None else {"unparsed": raw_body[:2000].decode("utf-8", "replace")},
        response=payload if payload is not None else answer.text,
        created_at=now,
    )
    return answer
