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
