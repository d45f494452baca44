"""PostgreSQL: Lead's JSON columns compressed with lz4 instead of pglz where the server has it.

A lead's `raw`, `answers` and `field_outcomes` are each 1-3 KB of jsonb, over PostgreSQL's TOAST
threshold once together: every INSERT of a page and every UPDATE of a pushed batch compresses them,
and pglz was a large part of the database's time in a 100,000-lead backfill (bench/README.md). lz4
compresses several times faster for about the same size. Only new values are compressed so; rows
already stored stay as they are and read the same.

Nothing happens on SQLite, on PostgreSQL before 14 (no SET COMPRESSION), or on a server built
without lz4 (it refuses the statement: the columns keep the default).
"""

from django.db import migrations, transaction

COLUMNS = ("raw", "answers", "field_outcomes")


def _set_compression(schema_editor, method):
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or connection.pg_version < 140000:
        return
    table = schema_editor.quote_name("leads_lead")
    for column in COLUMNS:
        try:
            with transaction.atomic(using=connection.alias):  # a savepoint: a refusal leaves the rest as it was
                schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {schema_editor.quote_name(column)} "
                                      f"SET COMPRESSION {method}")
        except Exception as exc:  # the server has no lz4: the default compression stays
            if method == "default" or "lz4" not in str(exc).lower():
                raise
            return


def lz4(apps, schema_editor):
    _set_compression(schema_editor, "lz4")


def default(apps, schema_editor):
    _set_compression(schema_editor, "default")


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0014_webhook_challenge'),
    ]

    operations = [
        migrations.RunPython(lz4, default, elidable=False),
    ]
