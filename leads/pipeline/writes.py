"""Writing many rows at once.

Django's `bulk_update` builds one `CASE WHEN pk = … THEN …` expression per field per row: for a
push batch of 500 leads and eleven fields that is 5,500 expressions to resolve and compile, which
took most of a push's time; `bulk_create` prepares every field of every row through the field's
own machinery and JSON columns through the standard library's encoder. The same work as one
prepared statement run for every row (`executemany`: a loop in C on SQLite), or on PostgreSQL
many rows a statement (a statement a row, even pipelined, is parsed, planned and executed each
time), with JSON written by orjson, costs a small fraction of it.

On PostgreSQL many rows a statement are sent as one array a column (`unnest`), bound on the
server: the statement's text stays short and the same whatever the number of rows. A VALUES
list of a page's rows (3,000 placeholders) was parsed for its placeholders by psycopg in Python
every time (too long for its cache), then sent as literals that the server parsed again: a
third of the sync's main thread and most of PostgreSQL's own time.
"""

import json
import re
import sqlite3
from datetime import UTC, datetime
from functools import partial

import orjson
from django.conf import settings
from django.db import connections, models, router
from django.db.models.base import ModelState
from django.utils import timezone


def json_text(value) -> str:
    """`value` as JSON text for a JSON column: orjson, or the standard library for what orjson does
    not write (integers beyond 64 bits, which check_storable lets through)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


# For a value of its column's own type (or None), a field's get_db_prep_save returns the value
# itself: these columns skip that machinery, which costs more per value than the row's insert.
_PLAIN = ((models.CharField, str), (models.TextField, str), (models.BooleanField, bool),
          (models.IntegerField, int), (models.AutoField, int))


def _plain_type(field):
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    return next((kind for cls, kind in _PLAIN if isinstance(field, cls)), None)


def _preparer(field, connection):
    """A function turning an attribute value into the column's parameter."""
    if isinstance(field, models.JSONField) and field.encoder is None:
        stored = getattr(field, "stored", None)  # OutcomesField: outcomes stored as arrays
        if stored is not None:
            return lambda value: None if value is None else json_text(stored(value))
        return lambda value: None if value is None else json_text(value)
    generic = partial(field.get_db_prep_save, connection=connection)
    kind = _plain_type(field)
    if kind is str:  # a text column keeps str and its subclasses (TextChoices) as they are, as Django does
        def text_as_is(value):
            return value if value is None or isinstance(value, str) else generic(value)
        return text_as_is
    if kind is not None:
        def as_is(value):
            return value if value is None or type(value) is kind else generic(value)
        return as_is
    if (isinstance(field, models.DateTimeField) and connection.vendor == "sqlite" and settings.USE_TZ
            and connection.timezone_name == "UTC"):
        # What Django writes (the UTC time as naive ISO text), without its per-value machinery;
        # anything but an aware datetime goes through it.
        def sqlite_datetime(value):
            if value is None:  # most of a new lead's moments (not yet sent, synced, retried, ignored)
                return None
            if type(value) is datetime and value.tzinfo is UTC:  # most values: no conversion to make
                return value.replace(tzinfo=None).isoformat(" ")
            if isinstance(value, datetime) and value.tzinfo is not None:
                return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
            return generic(value)
        return sqlite_datetime
    return generic


def _placeholder(field, connection) -> str:
    # A JSON column on PostgreSQL is jsonb: its text parameter is cast there.
    if isinstance(field, models.JSONField) and connection.vendor == "postgresql":
        return "%s::jsonb"
    return "%s"


def _array_type(field, connection) -> str:
    """The PostgreSQL array type a column's values are sent in: the column's own type without
    its length (assigning the value still checks the length, as an INSERT of it does, where a
    cast to varchar(n) would cut it silently); text for JSON, cast to jsonb where it is written
    (_from_array)."""
    if isinstance(field, models.JSONField):
        return "text[]"
    return re.sub(r"\(.*\)", "", field.cast_db_type(connection)) + "[]"


def _from_array(expression: str, field) -> str:
    return f"{expression}::jsonb" if isinstance(field, models.JSONField) else expression


def _columns(rows) -> list[list]:
    """Rows of parameters as one list a column: the arrays an unnest statement takes."""
    return [list(column) for column in zip(*rows)]


def _cursor(connection):
    """A cursor for these statements. On PostgreSQL one that binds its parameters on the server
    (psycopg's Cursor; Django's default ClientCursor writes them into the statement's text), so
    that an array goes in psycopg's binary form, written in C: as text, psycopg escapes it in
    Python, which for a page's JSON took longer than the rest of the page. Still Django's cursor
    wrapper: the query log and execute wrappers see the statements."""
    if connection.vendor != "postgresql" or connection.settings_dict["OPTIONS"].get("server_side_binding"):
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))


def _table(model):
    """(model meta, database connection, identifier quoting) for one model."""
    connection = connections[router.db_for_write(model)]
    return model._meta, connection, connection.ops.quote_name


def _table_of(objs):
    """_table of instances of one model."""
    return _table(type(objs[0]))


def rows_update(objs, fields) -> None:
    """Write `fields` of each model instance in `objs` (all of one model) to its row, by pk. Like
    QuerySet.bulk_update: no signals, no auto_now, rows that are gone are skipped."""
    objs = list(objs)
    if not objs:
        return
    meta, connection, quote = _table_of(objs)
    columns = [meta.get_field(name) for name in fields]
    prepare = [(c.attname, _preparer(c, connection)) for c in columns]
    params = [[to_db(getattr(obj, name)) for name, to_db in prepare] + [obj.pk] for obj in objs]
    with _cursor(connection) as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(f"UPDATE {quote(meta.db_table)} SET "
                               + ", ".join(f"{quote(c.column)} = {_placeholder(c, connection)}" for c in columns)
                               + f" WHERE {quote(meta.pk.column)} = %s", params)
            return
        # PostgreSQL: many rows a statement, joined on the pk. Run once a row (psycopg's
        # pipeline) the statements themselves were most of the server's time: a push batch's 500
        # outcomes were 500 UPDATEs, each parsed, planned and executed on its own.
        names = [quote(f"v{n}") for n in range(len(columns))] + [quote("pk")]
        statement = (f"UPDATE {quote(meta.db_table)} AS t SET "
                     + ", ".join(f"{quote(c.column)} = {_from_array(f'v.{name}', c)}" for c, name in zip(columns, names))
                     + " FROM unnest(" + ", ".join(f"%b::{_array_type(f, connection)}" for f in [*columns, meta.pk])
                     + f") AS v({', '.join(names)}) WHERE t.{quote(meta.pk.column)} = v.{quote('pk')}")
        per_statement = max(1, _max_params(connection) // (len(columns) + 1))
        for start in range(0, len(params), per_statement):
            cursor.execute(statement, _columns(params[start:start + per_statement]))


def rows_set(model, pks, **values) -> None:
    """Set the fields `values` (by attribute name) to the same values on the rows of `model` whose
    pk is in `pks`: QuerySet.update's statement (no signals, no auto_now) without compiling a
    queryset for each batch."""
    pks = list(pks)
    if not pks:
        return
    meta, connection, quote = _table(model)
    columns = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{quote(c.column)} = {_placeholder(c, connection)}" for c in columns)
    prepared = [_preparer(c, connection)(value) for c, value in zip(columns, values.values())]
    per_statement = max(1, _max_params(connection) - len(columns))
    with _cursor(connection) as cursor:
        for start in range(0, len(pks), per_statement):
            chunk = pks[start:start + per_statement]
            among, among_params = _among(meta.pk, chunk, connection)
            cursor.execute(f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} {among}",
                           [*prepared, *among_params])


def rows_insert(objs, *, ignore_conflicts=False, key=None) -> None:
    """Insert model instances (all of one model, pks left to the database) with one prepared
    INSERT run for every row. Like QuerySet.bulk_create: no signals; `auto_now`/`auto_now_add`
    and defaults are applied as a save would. With `ignore_conflicts`, a row that breaks a unique
    constraint is left out (ON CONFLICT DO NOTHING). Without `key`, no pks are set on the
    instances; with `key` (the attribute name of a unique field) the rows are inserted many to a
    statement and RETURN their pk, and each instance the database took gets its pk and is marked
    saved (matched by its key: a conflict leaves a row out, and RETURNING's order is not promised);
    one left out by a conflict keeps a pk of None."""
    objs = list(objs)
    if not objs:
        return
    meta, connection, quote = _table_of(objs)
    columns = [f for f in meta.concrete_fields if not f.primary_key]
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c.column) for c in columns)}) VALUES "
    row = "(" + ", ".join(_placeholder(c, connection) for c in columns) + ")"
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    stamped = [c for c in columns if getattr(c, "auto_now", False) or getattr(c, "auto_now_add", False)]
    prepare = [(c.attname, _preparer(c, connection)) for c in columns]
    params = []
    if stamped and all(isinstance(c, models.DateTimeField) for c in stamped):
        # One moment for the statement's rows, as a save would stamp each (with one call of
        # timezone.now() and one conversion for the lot, not one per row and column).
        now = timezone.now()
        stamps = {name: to_db(now) for name, to_db in prepare if name in {c.attname for c in stamped}}
        for obj in objs:
            obj.__dict__.update(dict.fromkeys(stamps, now))
        prepare = [(name, None if name in stamps else to_db) for name, to_db in prepare]
        for obj in objs:
            params.append([stamps[name] if to_db is None else to_db(getattr(obj, name)) for name, to_db in prepare])
    else:
        for obj in objs:
            for c in stamped:
                c.pre_save(obj, add=True)
            params.append([to_db(getattr(obj, name)) for name, to_db in prepare])
    with _cursor(connection) as cursor:
        if key is None and connection.vendor != "postgresql":
            cursor.executemany(head + row + tail, params)  # a loop in C, as fast as many rows a statement
            return
        # Many rows a statement (on PostgreSQL one statement a row costs a round of parsing,
        # planning and executing each): a VALUES list on SQLite, one array a column on PostgreSQL.
        key_field = meta.get_field(key) if key else None
        by_key = {getattr(obj, key_field.attname): obj for obj in objs} if key_field else {}
        returning = f" RETURNING {quote(meta.pk.column)}, {quote(key_field.column)}" if key_field else ""
        if connection.vendor == "postgresql":
            names = [quote(f"c{n}") for n in range(len(columns))]
            head = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c.column) for c in columns)}) SELECT "
                    + ", ".join(_from_array(f"v.{name}", c) for c, name in zip(columns, names)) + " FROM unnest("
                    + ", ".join(f"%b::{_array_type(c, connection)}" for c in columns) + f") AS v({', '.join(names)})")
        per_statement = max(1, _max_params(connection) // len(columns))
        for start in range(0, len(params), per_statement):
            chunk = params[start:start + per_statement]
            if connection.vendor == "postgresql":
                cursor.execute(head + tail + returning, _columns(chunk))
            else:
                cursor.execute(head + ", ".join([row] * len(chunk)) + tail + returning,
                               [value for values in chunk for value in values])
            if not key_field:
                continue
            for pk, value in cursor.fetchall():
                obj = by_key[value]
                obj.pk = pk
                obj._state.adding, obj._state.db = False, connection.alias


def values_in(model, field: str, values, *, select: str | None = None, **equal) -> set:
    """The `select` values (default: `field`'s) of the rows of `model` whose `field` is one of
    `values` and whose other fields equal `equal`'s (by attribute name): the lookups a page of
    leads takes, as one plain SELECT a chunk instead of a queryset compiled for each page. Values
    are compared as the column holds them (text, integers), without a field's conversion."""
    return {row[0] for row in rows_in(model, field, values, select=[select or field], **equal)}


def rows_in(model, field: str, values, *, select, lower=False, **equal) -> list[tuple]:
    """The `select` columns (attribute names) of the rows of `model` whose `field` is one of
    `values` and whose other fields equal `equal`'s, as tuples (see values_in). With `lower`,
    `field` is compared lower-cased (LOWER(field), as an index on it holds it): `values` must be
    lower-case."""
    values = list(dict.fromkeys(values))
    if not values:
        return []
    meta, connection, quote = _table(model)  # the write database: read inside the page's transaction
    target = meta.get_field(field)
    column = f"LOWER({quote(target.column)})" if lower else quote(target.column)
    selected = ", ".join(quote(meta.get_field(name).column) for name in select)
    conditions = "".join(f" AND {quote(meta.get_field(name).column)} = %s" for name in equal)
    per_statement = max(1, _max_params(connection) - len(equal))
    found = []
    with _cursor(connection) as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start:start + per_statement]
            among, among_params = _among(target, chunk, connection, text=lower)
            cursor.execute(f"SELECT {selected} FROM {quote(meta.db_table)} WHERE {column} {among}{conditions}",
                           [*among_params, *equal.values()])
            found.extend(cursor.fetchall())
    return found


def _among(field, values, connection, *, text=False) -> tuple[str, list]:
    """(condition, its parameters) that a column is one of `values`: `IN (…)` with a placeholder a
    value on SQLite, `= ANY(…)` of one array on PostgreSQL (of text with `text`: what LOWER() gives)."""
    if connection.vendor == "postgresql":
        return f"= ANY(%b::{'text[]' if text else _array_type(field, connection)})", [list(values)]
    return f"IN ({', '.join(['%s'] * len(values))})", list(values)


def _max_params(connection) -> int:
    """How many parameters one statement may hold: SQLite's compiled limit (Django assumes 999,
    the limit of SQLite before 3.32), or what the backend says (psycopg's 65,535 on PostgreSQL)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        getlimit = getattr(connection.connection, "getlimit", None)  # Python 3.11+
        if getlimit is not None:
            return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return connection.features.max_query_params or 65535


def new_row(model, values: dict):
    """An unsaved instance of `model` holding `values` (by attribute name: `integration_id`, not
    `integration`) and every other field's default, for rows_insert: what `model(**values)`
    makes, without Django's per-field __init__ work, which cost more than the row's insert. No
    validation and no related objects: the values must be what the columns take."""
    obj = model.__new__(model)
    state = obj.__dict__
    for field in model._meta.concrete_fields:
        if field.attname not in values:
            state[field.attname] = field.get_default()
    state.update(values)
    obj._state = ModelState()
    obj._state.adding = True
    return obj


def query_log_clear() -> None:
    """Forget the SQL Django logs with DEBUG on (as in `make demo`): it keeps the last 9,000
    queries, payloads included, which over a long pull or push holds hundreds of megabytes. A log
    someone is reading (CaptureQueriesContext, assertNumQueries) is left alone."""
    for connection in connections.all(initialized_only=True):
        if not connection.force_debug_cursor:
            connection.queries_log.clear()
