"""Rest.li protocol 2.0 query strings and URNs, read the way LinkedIn's servers read them.

The raw query string is split on `&` and `=`, then every value is parsed as Rest.li data:
`(key:value,…)` is an object, `List(a,b)` a list, anything else a string. The characters `( ) , :`
are syntax wherever they appear raw; a literal one inside a string must be percent-encoded, and
percent-decoding happens only inside strings, after the structure is known. So
`owner=(organization:urn%3Ali%3Aorganization%3A1)` is an object holding a URN, while an over-encoded
`owner=%28organization%3Aurn…%29` is a plain string and a double-encoded `urn%253Ali…` decodes to a
string that is not a URN: both are rejected by the caller as ILLEGAL_ARGUMENT, as LinkedIn does.
"""

import re
from dataclasses import dataclass

_SYNTAX = "(),:"
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class RestliSyntaxError(ValueError):
    """The query string is not valid Rest.li 2.0."""


def parse_query(raw):
    """Parse a raw query string into {name: value}; values are str, dict or list (nested)."""
    params = {}
    for part in (raw or "").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        name = _decode(key)
        if name in params:
            raise RestliSyntaxError(f"Query parameter '{name}' appears more than once")
        params[name] = parse_value(value)
    return params


def parse_value(text):
    parser = _Parser(text)
    value = parser.value()
    if parser.pos != len(text):
        raise RestliSyntaxError(f"Unexpected '{text[parser.pos]}' at position {parser.pos} of '{text}'")
    return value


def _decode(text):
    if _PERCENT.search(text):
        raise RestliSyntaxError(f"Malformed percent-encoding in '{text}'")
    try:
        return bytes(_unquote_bytes(text)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RestliSyntaxError(f"'{text}' is not percent-encoded UTF-8") from exc


def _unquote_bytes(text):
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            out.extend(char.encode("utf-8"))
            i += 1
    return out


class _Parser:
    def __init__(self, text):
        self.text = text
        self.pos = 0

    def _peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _take(self, expected):
        char = self._peek()
        if char not in expected or not char:
            found = f"'{char}'" if char else "end of value"
            raise RestliSyntaxError(f"Expected one of '{expected}' but found {found} in '{self.text}'")
        self.pos += 1
        return char

    def value(self):
        if self.text.startswith("List(", self.pos):
            self.pos += len("List(")
            return self._list()
        if self._peek() == "(":
            self.pos += 1
            return self._object()
        return self._string()

    def _list(self):
        items = []
        if self._peek() == ")":
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            if self._take(",)") == ")":
                return items

    def _object(self):
        obj = {}
        if self._peek() == ")":
            self.pos += 1
            return obj
        while True:
            key = self._string()
            if not key:
                raise RestliSyntaxError(f"Empty key in '{self.text}'")
            self._take(":")
            obj[key] = self.value()
            if self._take(",)") == ")":
                return obj

    def _string(self):
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _SYNTAX:
            self.pos += 1
        raw = self.text[start : self.pos]
        return "" if raw == "''" else _decode(raw)


_URN = re.compile(r"^urn:li:([A-Za-z]+):(.+)$")
_VERSIONED_FORM = re.compile(r"^urn:li:versionedLeadGenForm:\(urn:li:leadGenForm:(\d+),(\d+)\)$")


@dataclass(frozen=True)
class Urn:
    entity_type: str
    id: str

    def __str__(self):
        return f"urn:li:{self.entity_type}:{self.id}"


def parse_urn(value, entity_type=None):
    """A `Urn`, or None when `value` is not a well-formed URN (of `entity_type`, when given).

    A '%' left after decoding means the client encoded twice; a URN never contains one.
    """
    if not isinstance(value, str) or "%" in value:
        return None
    match = _URN.match(value)
    if not match or (entity_type and match.group(1) != entity_type):
        return None
    urn = Urn(match.group(1), match.group(2))
    if urn.entity_type == "versionedLeadGenForm":
        return urn if _VERSIONED_FORM.match(value) else None
    if urn.entity_type not in ("person",) and not urn.id.isdigit():
        return None
    return urn


def parse_versioned_form_urn(value):
    """(form id, version) from urn:li:versionedLeadGenForm:(urn:li:leadGenForm:ID,V), else None."""
    match = _VERSIONED_FORM.match(value) if isinstance(value, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None
