"""JSON in and out of the sandbox's two APIs, with orjson: a 100,000-lead benchmark sends the
sandbox 1,000 pages of 100 leads and 200 createLeads bodies of 500, and the standard library's
encoder and decoder were a sixth of the server's CPU. Whatever orjson refuses or would read
differently goes through the standard library, so the bytes and values are the same."""

import json
import re

import orjson
from django.http import HttpResponse, JsonResponse

# orjson reads an integer beyond 64 bits as a float, and refuses NaN and lone surrogates, which
# the standard library reads: those bodies take the standard library's way.
_LONG_DIGITS = re.compile(rb"\d{19}")


def loads(body: bytes):
    """The JSON value of a request body; ValueError (or UnicodeDecodeError) as json.loads raises."""
    if not _LONG_DIGITS.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body.decode("utf-8"))


def response(data, status=200) -> HttpResponse:
    """A JSON answer, UTF-8 as it is (JsonResponse's with ensure_ascii off)."""
    try:
        content = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # what only Django's encoder writes (a Decimal, a lazy string), or an int beyond 64 bits
        return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    return HttpResponse(content, status=status, content_type="application/json")
