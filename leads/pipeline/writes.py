"""Writing many rows back at once.

Django's `bulk_update` builds one `CASE WHEN pk = … THEN …` expression per field per row: for a
push batch of 500 leads and eleven fields that is 5,500 expressions to resolve and compile, which
took most of a push's time. The same work as one prepared `UPDATE … WHERE pk = %s` run for every
row (`executemany`: a loop in C on SQLite, a pipeline on psycopg 3) costs a small fraction of it.
"""

from django.db import connections, router


def rows_update(objs, fields) -> None:
    """Write `fields` of each model instance in `objs` (all of one model) to its row, by pk. Like
    QuerySet.bulk_update: no signals, no auto_now, rows that are gone are skipped."""
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sql = (f"UPDATE {quote(meta.db_table)} SET " + ", ".join(f"{quote(c.column)} = %s" for c in columns)
           + f" WHERE {quote(meta.pk.column)} = %s")
    params = [[c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns] + [obj.pk] for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def query_log_clear() -> None:
    """Forget the SQL Django logs with DEBUG on (as in `make demo`): it keeps the last 9,000
    queries, payloads included, which over a long pull or push holds hundreds of megabytes. A log
    someone is reading (CaptureQueriesContext, assertNumQueries) is left alone."""
    for connection in connections.all(initialized_only=True):
        if not connection.force_debug_cursor:
            connection.queries_log.clear()
