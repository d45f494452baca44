"""Logging for every process (web, worker, beat, CLI): one line per record, plain text in development
or JSON (`LEADSYNC_LOG_FORMAT=json`, python-json-logger) in production, each carrying what it is
part of: the request (`request_id`, from `X-Request-ID` or made here, echoed in the response), the
Celery task (`task_id`, `task`) and the sync run (`run_id`, `integration_id`).

Whatever a record holds, the formatter redacts the line it writes: e-mail addresses, bearer and
basic credentials, secret-looking query parameters and JSON keys, Fernet tokens, long opaque
strings shaped like OAuth tokens and the configured secrets themselves (SECRET_KEY, the LinkedIn
client secret, the field-encryption keys, the metrics token, passwords in the database and broker
URLs). Redaction is the last line of defence; the clients scrub their own messages first
(connectors.http.scrub).

The context itself lives in connectors.log_context, which imports nothing (the API clients, free of
Django, carry it into their threads); it is re-exported here."""

import logging
import re
import uuid
from functools import lru_cache
from urllib.parse import urlsplit

from pythonjsonlogger.json import JsonFormatter

from connectors.log_context import _context, context_pop, context_push, current_context, log_context  # noqa: F401

REDACTED = "[redacted]"
CONTEXT_FIELDS = ("request_id", "task_id", "task", "run_id", "integration_id")

class ContextFilter(logging.Filter):
    """Puts the current context's fields on every record (None when not set), so both formats can
    print them and a JSON line always has the same keys."""

    def filter(self, record):
        context = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name) or getattr(record, name) is None:
                setattr(record, name, context.get(name))
        return True


# --- Redaction ---------------------------------------------------------------------------------

# Unicode letters too (\w): international addresses are personal data as well.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# Credentials of an Authorization header; "basic" in a sentence is left alone (Basic takes base64).
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_BASIC = re.compile(r"\b(Basic)\s+[A-Za-z0-9+/]{8,}={0,2}")
_SECRET_NAMES = (r"access_?token|refresh_?token|id_?token|client_?secret|secret_?key|secretkey|api_?key|password"
                 r"|passwd|authorization|signature|token|accountid")
# name=value in URLs and forms, and "name": "value" in JSON or reprs. Not `code`: error codes are what
# an operator needs, and OAuth codes are opaque strings (below).
_SECRET_PARAM = re.compile(rf"(?i)\b({_SECRET_NAMES})=([^&\s\"',;)]+)")
_SECRET_JSON = re.compile(rf"(?i)([\"']({_SECRET_NAMES})[\"']\s*:\s*)(?:\"[^\"]*\"|'[^']*')")
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}")
# An opaque credential: 32+ characters of a token alphabet mixing upper case, lower case and digits
# (LinkedIn's tokens, JWTs, random keys). Hex digests, UUIDs, URNs and timestamps do not mix all three.
_OPAQUE = re.compile(r"(?<![A-Za-z0-9_~.+=-])[A-Za-z0-9_~.+=-]{32,}(?![A-Za-z0-9_~.+=-])")


def _looks_opaque(match) -> str:
    text = match.group(0)
    if re.search(r"[A-Z]", text) and re.search(r"[a-z]", text) and re.search(r"[0-9]", text):
        return REDACTED
    return text


def _url_password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


@lru_cache(maxsize=1)
def _configured_secrets(key: tuple) -> tuple[str, ...]:
    return tuple(sorted((s for s in key if s and len(s) >= 6), key=len, reverse=True))


def configured_secrets() -> tuple[str, ...]:
    """The secrets in the settings, longest first (nothing before Django's settings are ready)."""
    try:
        from django.conf import settings

        values = [settings.SECRET_KEY, getattr(settings, "LINKEDIN_CLIENT_SECRET", ""),
                  getattr(settings, "LEADSYNC_METRICS_TOKEN", ""),
                  *str(getattr(settings, "FIELD_ENCRYPTION_KEY", "")).split(","),
                  _url_password(str(getattr(settings, "CELERY_BROKER_URL", ""))),
                  _url_password(str(getattr(settings, "CELERY_RESULT_BACKEND", ""))),
                  str(settings.DATABASES.get("default", {}).get("PASSWORD") or "")]
    except Exception:  # noqa: BLE001 - settings not configured yet: only the patterns apply
        return ()
    return _configured_secrets(tuple(v.strip() for v in values))


def redact(text: str) -> str:
    """`text` without anything that looks like a secret, a token or an e-mail address."""
    for secret in configured_secrets():
        text = text.replace(secret, REDACTED)
    text = _EMAIL.sub("[email]", text)
    for pattern in (_BEARER, _BASIC):
        text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _SECRET_JSON.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _FERNET.sub(REDACTED, text)
    return _OPAQUE.sub(_looks_opaque, text)


class TextFormatter(logging.Formatter):
    """The development format, with the context that is set, redacted."""

    def __init__(self, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s", **kwargs):
        super().__init__(fmt, **kwargs)

    def format(self, record):
        line = super().format(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS
                           if getattr(record, name, None) is not None)
        return redact(f"{line} [{context}]" if context else line)


_PLAIN = (str, int, float, bool, type(None), list, tuple, dict)


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context fields, any plain
    `extra=` values (objects such as Django's `request` are left out: their repr can carry a query
    string), the exception; the whole line redacted."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "asctime": "time"})
        kwargs.setdefault("timestamp", False)
        kwargs.setdefault("json_ensure_ascii", False)  # names as they are (and redacted as they are)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s " + " ".join(
            f"%({name})s" for name in CONTEXT_FIELDS), *args, **kwargs)

    def formatTime(self, record, datefmt=None):
        from datetime import datetime, timezone

        return datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data):
        return {key: value for key, value in log_data.items() if isinstance(value, _PLAIN)}

    def format(self, record):
        return redact(super().format(record))


def logging_config(*, fmt: str, level: str) -> dict:
    """The LOGGING dict for settings: `fmt` is "json" or "text"."""
    if fmt not in ("json", "text"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LEADSYNC_LOG_FORMAT must be json or text, not {fmt!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "leadsync_project.logs.ContextFilter"},
                    "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
        "formatters": {
            "text": {"()": "leadsync_project.logs.TextFormatter"},
            "json": {"()": "leadsync_project.logs.JsonLineFormatter"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["context"]},
                     "mail_admins": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
                                     "filters": ["require_debug_false"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler (DEBUG only) would print its records a second time,
            # unformatted; they reach the root's handler instead. Errors are still e-mailed to
            # ADMINS in production, as Django's default configuration does.
            "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
            # urllib3 logs request lines, and CRM URLs carry the secret key in their query string.
            "urllib3": {"level": "WARNING"},
        },
    }


class AccessLogFilter(logging.Filter):
    """gunicorn's access records (`gunicorn.access`, whose args are its atoms) as fields: method,
    path without its query string (queries can carry OAuth codes and search terms), status, bytes,
    duration in ms and the request id the response carried. No client address or user agent:
    they are personal data, and the proxy in front logs them under its own rules."""

    def filter(self, record):
        atoms = record.args if isinstance(record.args, dict) else None
        if atoms is not None:
            record.method, record.path = atoms.get("m"), atoms.get("U")
            record.status = int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else None
            record.bytes = int(atoms["B"]) if str(atoms.get("B", "")).isdigit() else 0
            record.duration_ms = round(int(atoms.get("D") or 0) / 1000, 1)
            given = atoms.get("{x-request-id}o")
            record.request_id = given if given and given != "-" else None
        return True


# gunicorn's access line, in either format: no query string, no client address.
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(B)s %(M)sms"


def gunicorn_logging_config(*, fmt: str, level: str) -> dict:
    """gunicorn's `logconfig_dict`: its error and access loggers through the same formatters."""
    config = logging_config(fmt=fmt, level=level)
    config["filters"]["access"] = {"()": "leadsync_project.logs.AccessLogFilter"}
    config["handlers"]["access"] = {"class": "logging.StreamHandler", "formatter": fmt,
                                    "filters": ["access", "context"], "stream": "ext://sys.stdout"}
    config["loggers"].update({
        "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    })
    return config


# --- Request ids --------------------------------------------------------------------------------

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
REQUEST_ID_HEADER = "X-Request-ID"


def request_id_middleware(get_response):
    """Every request gets an id: the proxy's `X-Request-ID` when it is a sane one (letters, digits,
    `._:-`, at most 100 characters; anything else could forge log lines), else a new one. Records
    logged while the request is served carry it; the response says it in `X-Request-ID`, and
    gunicorn's access log line (leadsync_project/gunicorn.conf.py) reads it from there."""
    from django.core.signals import request_finished

    request_finished.connect(request_id_clear, dispatch_uid="leadsync-request-id-clear")

    def middleware(request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        # Set until the response is closed (request_finished), not only while the view runs:
        # Django logs 4xx and 5xx answers (django.request) after the middleware has returned.
        _context.set({**_context.get(), "request_id": request_id})
        response = get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    return middleware


def request_id_clear(**_):
    """request_finished's receiver: what is logged after a response, in
    the thread that served it, is not that request's any more."""
    context = _context.get()
    if "request_id" in context:
        _context.set({k: v for k, v in context.items() if k != "request_id"})
