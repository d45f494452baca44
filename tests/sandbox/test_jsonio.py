"""The sandbox's JSON in and out (sandbox.jsonio): orjson where it reads and writes what the standard
library does, the standard library for the rest, so answers and parsed bodies are the same."""

import json
from decimal import Decimal

import pytest

from sandbox import jsonio


@pytest.mark.parametrize("text", [
    '{"a": 1, "b": [true, null, 1.5], "c": "Ångström"}',
    '{"id": 12345678901234567890123}',      # beyond 64 bits: orjson would make it a float
    '{"v": NaN}',                            # orjson refuses it, the standard library reads it
    '{"s": "\\ud800"}',                      # a lone surrogate, likewise
    '[1, 2]',
])
def test_loads_reads_what_the_standard_library_reads(text):
    value = jsonio.loads(text.encode())
    expected = json.loads(text)
    assert json.dumps(value) == json.dumps(expected)
    assert type(value) is type(expected)


@pytest.mark.parametrize("body", [b"{", b"", b"\xff\xfe", b'{"a": 1} x'])
def test_loads_refuses_what_the_standard_library_refuses(body):
    with pytest.raises(ValueError):
        jsonio.loads(body)


@pytest.mark.parametrize("data", [
    {"elements": [{"id": 1, "name": "Ångström Labs", "ok": True, "none": None}], "paging": {"start": 0}},
    {1: "an int key, written as a string"},
    {"big": 2**70},                       # orjson refuses it: the standard library writes it
    {"amount": Decimal("1.50")},          # only Django's encoder writes it
])
def test_response_carries_the_value_as_json(data):
    response = jsonio.response(data, status=201)
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == json.loads(json.dumps(data, default=str))


def test_response_writes_utf8_as_it_is():
    assert "Ångström".encode() in jsonio.response({"name": "Ångström"}).content
