"""check_storable's one-pass fast check (orjson) only ever says "storable" for what the full walk
stores too: whatever it is given, the two never disagree on a value the fast check lets through."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.exceptions import BadPayload
from connectors.payloads import MAX_DEPTH, _plainly_storable, _walk, check_storable

texts = st.text() | st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "null", "[[[[", "\\u0000"])
numbers = (st.integers(min_value=-(2**70), max_value=2**70) | st.just(2**14_001)
           | st.floats() | st.sampled_from([math.nan, math.inf, -math.inf, -0.0]))
leaves = st.none() | st.booleans() | numbers | texts
values = st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                      | st.dictionaries(texts, children, max_size=3), max_leaves=30)


def deep(n):
    value = []
    for _ in range(n):
        value = [value]
    return value


def walk_stores(value, max_depth=MAX_DEPTH):
    try:
        _walk(value, 1, max_depth, "test", None)
    except BadPayload:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(st.lists(values, max_size=4) | st.dictionaries(texts, values, max_size=4), st.integers(1, 8))
def test_the_fast_check_never_lets_through_what_the_walk_refuses(value, max_depth):
    if _plainly_storable(value, max_depth):
        assert walk_stores(value, max_depth)


@pytest.mark.parametrize("value", [
    {"a": "x\x00y"}, {"a": math.nan}, {"a": [math.inf]}, {"a": "\ud800"}, {"\x00": 1}, {"a": 2**14_001},
    deep(MAX_DEPTH + 1),
])
def test_what_the_walk_refuses_is_still_refused(value):
    assert not _plainly_storable(value, MAX_DEPTH)
    with pytest.raises(BadPayload):
        check_storable(value, what="test")


def test_a_plain_lead_takes_the_fast_way():
    lead = {"id": "x", "formResponse": {"answers": [{"questionId": 1, "answerDetails": {
        "textQuestionAnswer": {"answer": "Zoë 北京"}}}]}, "submittedAt": 1, "testLead": False}
    assert _plainly_storable(lead, MAX_DEPTH)
    check_storable(lead, what="lead")
