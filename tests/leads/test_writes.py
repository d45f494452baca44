"""The pipeline's bulk writes: rows written back by pk with one prepared statement, and DEBUG's
query log kept from growing over a long sync."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Lead
from leads.models import LeadAttempt, LeadNotification
from leads.pipeline.writes import query_log_clear, rows_in, rows_insert, rows_set, rows_update, values_in
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_rows_update_writes_every_field_of_every_row_and_nothing_else():
    integration = factories.integration()
    leads = [factories.lead(integration, email=f"p{n}@example.com") for n in range(3)]
    untouched = factories.lead(integration, email="other@example.com")
    when = timezone.now() - timedelta(hours=1)
    for n, lead in enumerate(leads):
        lead.state, lead.crm_id, lead.last_attempt_at = "synced", str(100 + n), when
        lead.field_outcomes = [{"crm_field": "firstName", "status": "ok", "message": f"é {n}"}]
        lead.email = "not written"

    rows_update(leads, ["state", "crm_id", "last_attempt_at", "field_outcomes"])

    for n, lead in enumerate(Lead.objects.filter(pk__in=[l.pk for l in leads]).order_by("pk")):
        assert (lead.state, lead.crm_id, lead.last_attempt_at) == ("synced", str(100 + n), when)
        assert lead.field_outcomes == [{"crm_field": "firstName", "status": "ok", "message": f"é {n}"}]
        assert lead.email == f"p{n}@example.com", "a field not named is not written"
    assert Lead.objects.get(pk=untouched.pk).state == "pending"
    rows_update([], ["state"])  # nothing to write: no query


def test_rows_update_writes_nulls_and_big_integers():
    """NULLs, and a JSON integer beyond 64 bits (orjson does not write it: json does)."""
    integration = factories.integration()
    leads = [factories.lead(integration, email=f"p{n}@example.com") for n in range(7)]
    for n, lead in enumerate(leads):
        lead.retry_at = None if n % 2 else timezone.now()
        lead.last_attempt_at = None
        lead.field_outcomes = [{"n": 2**70 + n}] if n == 3 else []

    rows_update(leads, ["retry_at", "last_attempt_at", "field_outcomes"])

    stored = list(Lead.objects.filter(pk__in=[l.pk for l in leads]).order_by("pk"))
    assert [lead.retry_at is None for lead in stored] == [bool(n % 2) for n in range(7)]
    assert all(lead.last_attempt_at is None for lead in stored)
    assert stored[3].field_outcomes == [{"n": 2**70 + 3}] and stored[0].field_outcomes == []


def test_rows_insert_fills_defaults_and_timestamps_and_leaves_out_conflicting_rows():
    integration = factories.integration()
    known = factories.lead(integration, email="known@example.com")
    fresh = [Lead(integration=integration, linkedin_id=f"new-{n}", submitted_at=timezone.now(), raw={"id": n},
                  answers={"answers": {"q": {"value": "ü"}}}) for n in range(3)]
    clash = Lead(integration=integration, linkedin_id=known.linkedin_id, submitted_at=timezone.now(), raw={})

    rows_insert([*fresh, clash], ignore_conflicts=True)

    stored = Lead.objects.filter(linkedin_id__startswith="new-").order_by("linkedin_id")
    assert [(lead.raw, lead.state, lead.answers["answers"]["q"]["value"]) for lead in stored] == [
        ({"id": n}, "pending", "ü") for n in range(3)]
    assert all(lead.created_at and lead.updated_at for lead in stored)
    assert Lead.objects.get(linkedin_id=known.linkedin_id).email == "known@example.com", "the known row is kept"
    lead = stored[0]
    rows_insert([LeadAttempt(lead=lead, run=None, at=timezone.now(), number=1, outcome="synced", refused_fields=[])])
    assert LeadAttempt.objects.get(lead=lead).run is None


@pytest.mark.parametrize("per_statement", [None, 2])
def test_rows_set_sets_the_same_values_on_the_rows_of_the_pks_only(monkeypatch, per_statement):
    """QuerySet.update's effect (auto_now left alone), across statements when the pks do not fit in one."""
    from leads.pipeline import writes

    if per_statement:  # three values and two pks a statement: five pks take three statements
        monkeypatch.setattr(writes, "_max_params", lambda connection: 3 + per_statement)
    integration = factories.integration()
    leads = [factories.lead(integration, email=f"s{n}@example.com", attempts=0) for n in range(6)]
    updated_at = {lead.pk: lead.updated_at for lead in Lead.objects.all()}
    when = timezone.now() - timedelta(minutes=5)

    with CaptureQueriesContext(connection) as captured:
        rows_set(Lead, [lead.pk for lead in leads[:5]], attempts=2, last_attempt_at=when, create_sent_at=None)

    assert len(captured) == (3 if per_statement else 1)
    stored = {lead.pk: lead for lead in Lead.objects.all()}
    assert [(stored[lead.pk].attempts, stored[lead.pk].last_attempt_at) for lead in leads] == [(2, when)] * 5 + [(0, None)]
    assert all(stored[lead.pk].create_sent_at is None for lead in leads)
    assert {pk: lead.updated_at for pk, lead in stored.items()} == updated_at
    rows_set(Lead, [])  # nothing to write: no statement


@pytest.mark.parametrize("per_statement", [None, 2])
def test_values_in_finds_the_rows_a_page_asks_about(monkeypatch, per_statement):
    from leads.pipeline import writes

    if per_statement:
        monkeypatch.setattr(writes, "_max_params", lambda connection: 1 + per_statement)
    integration = factories.integration()
    leads = [factories.lead(integration, linkedin_id=f"in-{n}") for n in range(3)]
    LeadNotification.objects.create(lead_id="in-1", action=LeadNotification.Action.DELETED, lead_urn="urn:li:leadGenFormResponse:in-1", payload={})
    LeadNotification.objects.create(lead_id="in-2", action=LeadNotification.Action.CREATED, lead_urn="urn:li:leadGenFormResponse:in-2", payload={})

    asked = ["in-0", "in-1", "nope", "in-2", "in-0"]
    assert values_in(Lead, "linkedin_id", asked) == {"in-0", "in-1", "in-2"}
    assert values_in(Lead, "linkedin_id", asked, select="id") == {lead.pk for lead in leads}
    assert values_in(LeadNotification, "lead_id", asked, action=LeadNotification.Action.DELETED) == {"in-1"}
    assert values_in(Lead, "linkedin_id", []) == set()


def test_rows_in_reads_several_columns_and_matches_lower_cased():
    """The push's e-mail look-up: LOWER(email) against lower-cased addresses, as its index holds them."""
    integration = factories.integration()
    mixed = factories.lead(integration, email="Ana.Mixed@Example.COM", crm_id="7")
    factories.lead(integration, email="other@example.com", crm_id="8")

    rows = rows_in(Lead, "email", ["ana.mixed@example.com", "nobody@example.com"], lower=True,
                   select=["email", "crm_id", "integration"])
    assert rows == [("Ana.Mixed@Example.COM", "7", integration.pk)]
    assert rows_in(Lead, "email", ["ana.mixed@example.com"], select=["id"]) == [], "without lower: as stored"
    assert rows_in(Lead, "email", ["Ana.Mixed@Example.COM"], select=["id"], crm_id="7") == [(mixed.pk,)]
    assert rows_in(Lead, "email", [], select=["id"]) == []


@pytest.mark.parametrize("per_statement", [None, 2])
def test_rows_insert_with_a_key_gives_the_inserted_rows_their_pks(monkeypatch, per_statement):
    """With `key`, each row the database took gets its own pk (matched by key, RETURNING's order not
    being promised), across statements when the parameters do not fit in one; one left out by a
    conflict keeps None."""
    from leads.pipeline import writes

    if per_statement:  # two rows' parameters a statement: five rows take three statements
        columns = len([f for f in Lead._meta.concrete_fields if not f.primary_key])
        monkeypatch.setattr(writes, "_max_params", lambda connection: columns * per_statement)
    integration = factories.integration()
    known = factories.lead(integration, email="known@example.com")
    fresh = [Lead(integration=integration, linkedin_id=f"key-{n}", submitted_at=timezone.now(), raw={}, answers={})
             for n in range(4)]
    clash = Lead(integration=integration, linkedin_id=known.linkedin_id, submitted_at=timezone.now(), raw={})

    with CaptureQueriesContext(connection) as captured:
        rows_insert([fresh[0], clash, *fresh[1:]], ignore_conflicts=True, key="linkedin_id")

    assert len(captured) == (3 if per_statement else 1)
    assert clash.pk is None and clash._state.adding
    assert {lead.pk: lead.linkedin_id for lead in fresh} == dict(
        Lead.objects.filter(linkedin_id__startswith="key-").values_list("pk", "linkedin_id"))
    assert not any(lead._state.adding for lead in fresh)


def test_the_query_log_is_cleared_unless_someone_is_reading_it(settings):
    with CaptureQueriesContext(connection) as captured:
        Lead.objects.count()
        query_log_clear()
        Lead.objects.count()
    assert len(captured) == 2, "a capture in progress keeps its queries"

    connection.queries_log.append({"sql": "SELECT 1", "time": "0"})
    query_log_clear()
    assert not connection.queries_log


def _server_has_lz4() -> bool:
    from django.db import transaction
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL default_toast_compression = lz4")
        return True
    except Exception:
        return False


def test_the_json_columns_are_compressed_with_lz4_where_postgresql_has_it():
    """Migration 0015: a page's INSERT and a batch's UPDATE compress `raw`, `answers` and
    `field_outcomes` with lz4, several times faster than PostgreSQL's default pglz."""
    if connection.vendor != "postgresql" or connection.pg_version < 140000 or not _server_has_lz4():
        pytest.skip("lz4 column compression is PostgreSQL 14+ built with lz4")
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname, attcompression FROM pg_attribute "
                       "WHERE attrelid = 'leads_lead'::regclass AND attname IN ('raw', 'answers', 'field_outcomes', 'email')")
        compression = dict(cursor.fetchall())
    assert compression == {"raw": "l", "answers": "l", "field_outcomes": "l", "email": ""}


def test_on_postgresql_a_batch_is_written_many_rows_a_statement():
    """One statement a row (even pipelined) is parsed, planned and executed each time on the server:
    most of PostgreSQL's time in a push batch's write, before."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one prepared statement a row, in C")
    integration = factories.integration()
    leads = [factories.lead(integration, email=f"m{n}@example.com") for n in range(3)]
    for lead in leads:
        lead.state = "synced"
    attempts = [LeadAttempt(lead=lead, at=timezone.now(), number=1, outcome="synced") for lead in leads]
    with CaptureQueriesContext(connection) as captured:
        rows_update(leads, ["state"])
        rows_insert(attempts)
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["UPDATE", "INSERT"]
    assert not any(" times " in q["sql"] for q in captured.captured_queries), "not executemany"
    assert set(Lead.objects.filter(pk__in=[l.pk for l in leads]).values_list("state", flat=True)) == {"synced"}
    assert LeadAttempt.objects.filter(lead__in=leads).count() == 3


def test_on_postgresql_rows_go_as_one_array_a_column_in_a_statement_of_fixed_text():
    """A VALUES list of a page's rows was thousands of placeholders that psycopg parsed in Python on
    every call (too long for its cache) and the server parsed again as literals. One array a
    column keeps the statement's text the same whatever the number of rows."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one prepared statement a row, in C")
    integration = factories.integration()
    with CaptureQueriesContext(connection) as captured:
        for size in (2, 5):
            rows = [Lead(integration=integration, linkedin_id=f"arr-{size}-{n}", submitted_at=timezone.now(),
                         raw={"q": 'a "quoted" \\ back-slashed, {braced} é'}, answers={"n": n}) for n in range(size)]
            rows_insert(rows, ignore_conflicts=True, key="linkedin_id")
            rows_update(rows, ["state", "field_outcomes"])
            rows_set(Lead, [lead.pk for lead in rows], attempts=size)
            assert values_in(Lead, "linkedin_id", [lead.linkedin_id for lead in rows], select="id") == {
                lead.pk for lead in rows}
    texts = [query["sql"] for query in captured.captured_queries]
    assert texts[:4] == texts[4:], "the same four statements for two rows and for five"
    assert all("unnest" in text or "ANY" in text for text in texts)
    stored = Lead.objects.filter(linkedin_id__startswith="arr-5-").order_by("pk")
    assert [(lead.raw["q"], lead.answers, lead.attempts) for lead in stored] == [
        ('a "quoted" \\ back-slashed, {braced} é', {"n": n}, 5) for n in range(5)]


def test_a_value_longer_than_its_column_is_refused_not_cut():
    """The arrays are typed without the columns' lengths: assigning an element still checks it."""
    from django.db import DataError, transaction

    integration = factories.integration()
    lead = factories.lead(integration, email="long@example.com")
    lead.crm_id = "9" * 51  # the column holds 50
    with pytest.raises(DataError) if connection.vendor == "postgresql" else _no_check():
        with transaction.atomic():
            rows_update([lead], ["crm_id"])
    if connection.vendor == "postgresql":
        assert Lead.objects.get(pk=lead.pk).crm_id == ""


def _no_check():
    from contextlib import nullcontext
    return nullcontext()  # SQLite does not enforce a varchar's length
