"""Model fields of our own, and the JSON reading they share with the sandbox."""

import json
import re

import orjson
from django.db import models
from django.db.models.fields.json import KeyTransform


# orjson reads an integer beyond 64 bits as a float: text with a run of 19 digits or more (in a
# number or not) goes to the standard library, which reads it exactly.
_LONG_DIGITS = re.compile(r"\d{19}")


def json_loads(text: str):
    """json.loads(text): with orjson where it reads the same value, the standard library otherwise
    (an integer beyond 64 bits; NaN and lone surrogates, which orjson refuses). Raises as json.loads."""
    if not _LONG_DIGITS.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


class FastJSONField(models.JSONField):
    """A JSONField read with orjson: the push reads every pending lead's answers back, and the
    standard library's decoder was most of that (the sandbox's leads and CRM leads too: they are
    the benchmark's servers). Only whole column values of a field without a
    custom decoder are read so; anything orjson does not read, or would read differently (an
    integer beyond 64 bits, which check_storable lets through, it makes a float), goes through
    JSONField's own reading, so values are the same as with JSONField. Written as JSONField
    writes (leads.pipeline.writes writes with orjson)."""

    def from_db_value(self, value, expression, connection):
        if type(value) is str and self.decoder is None and not isinstance(expression, KeyTransform):
            try:
                return json_loads(value)
            except json.JSONDecodeError:
                return value  # as JSONField does
        return super().from_db_value(value, expression, connection)

    def deconstruct(self):
        # Stored exactly as a JSONField: migrations see no change (on SQLite an altered field
        # means the whole table is copied).
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


# A lead's field outcomes (mappings.engine) are one object a mapped field with these five keys.
OUTCOME_KEYS = ("source_kind", "source_key", "crm_field", "status", "message")
_OUTCOME_KEYSET = frozenset(OUTCOME_KEYS)


class OutcomesField(FastJSONField):
    """Lead.field_outcomes: a list of outcome objects in Python, stored as one array an outcome,
    its values in OUTCOME_KEYS' order (`["answer","firstName","FirstName","ok",""]`). The keys
    were half of each object's text and the push rewrites every lead's outcomes: on SQLite a
    pushed lead's row was ~5.4 KB, of which the outcomes 2.5 KB, written whole by each UPDATE.
    Read back, arrays become objects again, and objects stored before the arrays (or with other
    keys) are read as they are, so code sees the same values. Filters that match the stored text
    (the admin's field problems) spell the array form: leads.admin.leads._status_outcome."""

    @staticmethod
    def stored(value):
        """`value` as it is stored: outcome objects with exactly OUTCOME_KEYS as arrays."""
        if type(value) is not list:
            return value
        return [[outcome[key] for key in OUTCOME_KEYS]
                if type(outcome) is dict and outcome.keys() == _OUTCOME_KEYSET else outcome
                for outcome in value]

    @staticmethod
    def expanded(value):
        """A stored value as code sees it: five-value arrays as outcome objects."""
        if type(value) is not list:
            return value
        return [dict(zip(OUTCOME_KEYS, outcome)) if type(outcome) is list and len(outcome) == 5 else outcome
                for outcome in value]

    def get_prep_value(self, value):
        return super().get_prep_value(self.stored(value))

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        return value if isinstance(expression, KeyTransform) else self.expanded(value)
