"""The pipeline's bulk writes: rows written back by pk with one prepared statement, and DEBUG's
query log kept from growing over a long sync."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Lead
from leads.pipeline.writes import query_log_clear, rows_update
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


def test_the_query_log_is_cleared_unless_someone_is_reading_it(settings):
    with CaptureQueriesContext(connection) as captured:
        Lead.objects.count()
        query_log_clear()
        Lead.objects.count()
    assert len(captured) == 2, "a capture in progress keeps its queries"

    connection.queries_log.append({"sql": "SELECT 1", "time": "0"})
    query_log_clear()
    assert not connection.queries_log
