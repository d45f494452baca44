"""The push reads its leads back a batch at a time with only the columns it uses
(leads.pipeline.push.PUSH_FIELDS): a column it used but did not list would be read lead by lead,
one query each. Whatever the CRM answers (created, a field refused, a lead refused, an error that
may pass), no lead's column is loaded on its own, in the sync or in its report."""

import pytest
from django.db import models

from leads.models import Lead
from sandbox.crm.models import CrmField
from tests.e2e.conftest import crm_fault

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def deferred_loads(monkeypatch):
    loads = []
    original = models.Model.refresh_from_db

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        if isinstance(self, Lead):
            loads.append(sorted(fields or []))
        return original(self, using=using, fields=fields, from_queryset=from_queryset)

    monkeypatch.setattr(models.Model, "refresh_from_db", refresh_from_db)
    return loads


@pytest.mark.parametrize("fault", ["none", "field refused", "lead refused", "crm down"])
def test_a_push_loads_no_lead_column_on_its_own(cli, event_integration, deferred_loads, fault):
    if fault == "field refused":
        CrmField.objects.filter(system_name="companyName").update(data_length=12)
    elif fault == "lead refused":
        crm_fault(reject_email=".", reject_code=205, reject_message="Invalid parameters")
    elif fault == "crm down":
        crm_fault(fail_next=1000)

    result = cli("sync", "--days", "90", "--json")

    assert Lead.objects.exclude(state__in=["pending", "skipped"]).exists() or fault == "crm down", result.out
    assert Lead.objects.filter(attempts__gt=0).exists(), "the push ran"
    assert deferred_loads == [], f"columns read lead by lead: {deferred_loads[:3]}"


def test_the_push_takes_the_leads_the_pull_just_inserted(cli, event_integration):
    """The leads a sync pulls are pushed as the pull inserted them (pks from the INSERT's
    RETURNING): no statement of the sync reads a lead's answers back."""
    from django.db import connection

    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = cli("sync", "--days", "90", "--json")

    assert Lead.objects.filter(state="synced").count() > 0, result.out
    assert not Lead.objects.filter(state="pending").exists()
    read_back = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT") and "leads_lead" in sql
                 and '"answers"' in sql]
    assert read_back == [], read_back[:1]
