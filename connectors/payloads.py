"""JSON from outside (an API's answer, a webhook's body) read so that whatever is accepted can be
kept: Python's json module accepts NaN and Infinity, which are not JSON and which the database's
JSON columns refuse; it turns `\\ud800` into a lone surrogate and `\\u0000` into NUL, which cannot be
written as UTF-8 or into PostgreSQL's jsonb; it follows any nesting, until a RecursionError; and
a parsed value handed over from elsewhere may hold an integer too long to be written as JSON again.
Each of these is refused here as BadPayload, naming what was being read, before anything is stored."""

import json
import math

import orjson

from connectors.exceptions import BadPayload

# LinkedIn's and the CRM's deepest documented payloads nest well under ten levels.
MAX_DEPTH = 64
# Python writes (and reads) no integer longer than 4300 digits (its int_max_str_digits): a JSON
# column would fail on it at save time. 14,000 bits is about 4,200 digits.
MAX_INT_BITS = 14_000


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def loads(raw, *, what: str, status=None, check=True):
    """The JSON value of `raw` (bytes or text), or BadPayload naming `what`. With `check`, also
    one that can be stored as it is (check_storable); without, the caller checks what it keeps."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadPayload(f"{what}: the JSON is nested too deeply", status=status) from None
    except UnicodeDecodeError:
        raise BadPayload(f"{what}: not UTF-8 text", status=status) from None
    except ValueError as exc:
        reason = str(exc) if "JSON number" in str(exc) else "not JSON"
        raise BadPayload(f"{what}: {reason}", status=status) from None
    if check:
        check_storable(value, what=what, status=status)
    return value


def _check_text(text, what, status):
    if "\x00" in text:
        raise BadPayload(f"{what}: the JSON holds a NUL character", status=status)
    if text.isascii():  # most text: no surrogate possible, and no copy made to find out
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadPayload(f"{what}: the JSON holds text that is not valid Unicode (a lone surrogate)",
                         status=status) from None


def _plainly_storable(value, max_depth) -> bool:
    """True when `value` is surely storable, found in one pass in C: orjson writes it (so no lone
    surrogate, no key that is not text, no integer beyond 64 bits), the JSON holds no NUL, no null
    (orjson writes NaN and infinities as null: a null sends the value to the full check) and fewer
    brackets than `max_depth` (so it cannot nest deeper). False only means "look closer"."""
    try:
        text = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return (b"\\u0000" not in text and b"null" not in text
            and text.count(b"[") + text.count(b"{") < max_depth)


def check_storable(value, *, what: str, status=None, max_depth: int = MAX_DEPTH) -> None:
    """BadPayload unless `value` (parsed JSON) can be stored in a JSON column as it is."""
    if type(value) in (dict, list):
        if _plainly_storable(value, max_depth):  # most leads: one C pass instead of a walk
            return
        _walk(value, 1, max_depth, what, status)
    else:
        _check_any(value, what=what, status=status, max_depth=max_depth)


def _walk(item, depth, max_depth, what, status):
    """check_storable of what json.loads makes (dicts, lists, str, int, float, bool, None), called
    for every lead of every page: each text is looked at only when it may hold a problem."""
    if depth > max_depth or (item and depth + 1 > max_depth):
        raise BadPayload(f"{what}: the JSON is nested deeper than {max_depth} levels", status=status)
    children = item.values() if type(item) is dict else item
    if type(item) is dict:
        for key in item:
            if type(key) is not str or "\x00" in key or not key.isascii():
                _check_text(key, what, status)
    for child in children:
        kind = type(child)
        if kind is str:
            if "\x00" in child or not child.isascii():
                _check_text(child, what, status)
        elif kind is dict or kind is list:
            _walk(child, depth + 1, max_depth, what, status)
        elif kind is float:
            if not math.isfinite(child):
                raise BadPayload(f"{what}: the JSON holds a number that is not finite", status=status)
        elif kind is int:
            if child.bit_length() > MAX_INT_BITS:
                raise BadPayload(f"{what}: the JSON holds a number too long to be written", status=status)
        elif child is not None and kind is not bool:
            _check_any(child, what=what, status=status, max_depth=max_depth - depth)


def _check_any(value, *, what: str, status=None, max_depth: int = MAX_DEPTH) -> None:
    """check_storable of any value (subclasses of dict, list, str and the like included)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise BadPayload(f"{what}: the JSON is nested deeper than {max_depth} levels", status=status)
        if isinstance(item, str):
            _check_text(item, what, status)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, what, status)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadPayload(f"{what}: the JSON holds a number that is not finite", status=status)
        elif isinstance(item, int) and item.bit_length() > MAX_INT_BITS:
            raise BadPayload(f"{what}: the JSON holds a number too long to be written", status=status)
