"""The migrations are complete and apply on SQLite and PostgreSQL (the test database itself is
built by running them; the Postgres run of `make test` repeats this on a real server)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_migrations_applied_on_this_database():
    tables = set(connection.introspection.table_names())
    for table in ("connectors_linkedinconnection", "connectors_crmconnection", "connectors_leadform",
                  "mappings_integration", "mappings_fieldmapping", "leads_lead", "leads_syncrun",
                  "django_celery_beat_periodictask"):
        assert table in tables


def test_lead_is_unique_on_linkedin_response_id():
    from django.db import IntegrityError, transaction

    from tests import factories

    lead = factories.lead(linkedin_id="same-response")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.lead(integration_=lead.integration, linkedin_id="same-response")


def test_only_one_live_integration_per_form():
    from django.db import IntegrityError, transaction

    from tests import factories

    first = factories.integration()
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.integration(form=first.form)
    first.state = "torn_down"
    first.save()
    assert factories.integration(form=first.form).pk  # a torn-down one doesn't block recreating
