"""Lead's JSON columns are read with orjson (leadsync_project.fields.FastJSONField), and read exactly what
Django's JSONField reads, whatever the text holds."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync_project.fields import FastJSONField
from leads.models import Lead
from tests import factories

FIELD = Lead._meta.get_field("answers")

TEXTS = [
    '{"a": 1, "b": [1, 2.5, -0.0, 1e300, 0.1000000000000000055511151231257827], "c": null, "d": true}',
    '[18446744073709551615, 18446744073709551616, -9223372036854775809, 1180591620717411303427]',
    '{"phone": "+44 1234 567890123456789"}',  # a long run of digits in a text: read by json, the same
    '"\\u00e9\\u4e2d\\ud83d\\ude00"', '{"x": "\\ud800"}', "NaN", '{"a": Infinity}', "1E400", "[1, 2",
    '{"k": 1, "k": 2}', '"plain"', "123", "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_column_value_reads_as_jsonfield_reads_it(text):
    expected = json_field_value(text)
    got = FIELD.from_db_value(text, None, None)
    assert repr(got) == repr(expected) and type(got) is type(expected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False,
                                                                                         allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_stored_value_reads_back_the_same(value):
    text = json.dumps(value)
    assert repr(FIELD.from_db_value(text, None, None)) == repr(json_field_value(text))


def json_field_value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def test_the_field_is_a_jsonfield_for_migrations():
    assert isinstance(FIELD, FastJSONField)
    assert FIELD.deconstruct()[1] == "django.db.models.JSONField"


@pytest.mark.django_db
def test_a_lead_reads_back_its_big_integers_exactly():
    lead = factories.lead(factories.integration())
    Lead.objects.filter(pk=lead.pk).update(field_outcomes=[{"n": 2**70}], answers={"id": "x", "n": 2**63})
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.field_outcomes == [{"n": 2**70}] and lead.answers["n"] == 2**63
