"""Lead.field_outcomes is stored as one array an outcome (leadsync_project.fields.OutcomesField):
code reads and writes outcome objects as before, whichever way the row was written (the ORM, the
push's bulk statements); rows stored as objects before migration 0016 read the same and are
rewritten by it, after which the admin's field-problem filter, which matches the stored text, finds
them. Also run on PostgreSQL by `make test` (jsonb prints the arrays back in its own spacing)."""

import importlib
import json

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.models import Lead
from leads.pipeline.writes import rows_update
from leadsync_project.fields import OUTCOME_KEYS, OutcomesField, json_loads
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MIGRATION = importlib.import_module("leads.migrations.0016_lead_field_outcomes_arrays")


def outcome(crm_field, status, message=""):
    return {"source_kind": "question", "source_key": f"q-{crm_field}", "crm_field": crm_field, "status": status,
            "message": message}


def stored_text(lead) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT field_outcomes FROM leads_lead WHERE id = %s", [lead.pk])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value)


def store_as_objects(lead, outcomes):
    """Write outcomes as the code before OutcomesField stored them (one object an outcome)."""
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE leads_lead SET field_outcomes = %s{cast} WHERE id = %s", [json.dumps(outcomes), lead.pk])


@pytest.mark.parametrize("written_by", ["save", "update", "push"])
def test_outcomes_are_stored_as_arrays_and_read_back_as_objects(written_by):
    outcomes = [outcome("FirstName", "ok"), outcome("Title", "truncated", 'cut to 40 "chars"'),
                {"source_kind": "meta", "source_key": "x", "crm_field": None, "status": "unmapped", "message": ""}]
    lead = factories.lead(factories.integration(), field_outcomes=[] if written_by != "save" else outcomes)
    if written_by == "update":
        Lead.objects.filter(pk=lead.pk).update(field_outcomes=outcomes)
    elif written_by == "push":
        lead.field_outcomes = outcomes
        rows_update([lead], ["field_outcomes"])

    assert json_loads(stored_text(lead)) == [[o[key] for key in OUTCOME_KEYS] for o in outcomes]
    assert Lead.objects.get(pk=lead.pk).field_outcomes == outcomes
    assert Lead.objects.filter(pk=lead.pk).values_list("field_outcomes", flat=True)[0] == outcomes


def test_what_is_not_an_outcome_object_is_stored_and_read_as_it_is():
    odd = [{"n": 2**70}, {**outcome("A", "ok"), "extra": 1}, ["a", "b"], "text", None]
    lead = factories.lead(factories.integration(), field_outcomes=odd)
    assert Lead.objects.get(pk=lead.pk).field_outcomes == odd
    assert OutcomesField.stored({"a": 1}) == {"a": 1} and OutcomesField.expanded("x") == "x"


def test_the_stored_form_is_about_half_the_text():
    outcomes = [outcome(f"Field_{n}", "ok") for n in range(25)]
    lead = factories.lead(factories.integration(), field_outcomes=outcomes)
    assert len(stored_text(lead)) < 0.6 * len(json.dumps(outcomes))


texts = st.text(max_size=12) | st.none()
outcome_objects = st.fixed_dictionaries({key: texts for key in OUTCOME_KEYS})


@settings(max_examples=200, deadline=None)
@given(st.lists(outcome_objects | st.dictionaries(st.text(max_size=4), texts, max_size=3), max_size=6))
def test_any_outcomes_survive_the_stored_form(outcomes):
    assert OutcomesField.expanded(OutcomesField.stored(outcomes)) == outcomes


def test_outcomes_stored_as_objects_before_read_the_same_and_the_migration_rewrites_them(admin_client):
    integration = factories.integration()
    refused = factories.lead(integration, state="synced")
    store_as_objects(refused, [outcome("FirstName", "ok"),
                               outcome("Company", "error", "refused by the CRM, left out: CRM error 205")])
    cut = factories.lead(integration, state="synced")
    store_as_objects(cut, [outcome("Title", "truncated", "cut to 40")])
    clean = factories.lead(integration, state="synced", field_outcomes=[outcome("FirstName", "ok")])
    assert Lead.objects.get(pk=refused.pk).field_outcomes[1]["status"] == "error"  # objects read as they are

    apps = MigrationLoader(connection).project_state(("leads", "0015_lead_json_lz4")).apps
    MIGRATION.to_arrays(apps, None)

    assert json_loads(stored_text(cut)) == [["question", "q-Title", "Title", "truncated", "cut to 40"]]
    assert Lead.objects.get(pk=cut.pk).field_outcomes == [outcome("Title", "truncated", "cut to 40")]

    def listed(**params):
        response = admin_client.get(reverse("admin:leads_lead_changelist"), params)
        assert response.status_code == 200
        return set(response.context["cl"].result_list)

    assert listed(field_problems="refused") == {refused}
    assert listed(field_problems="truncated") == {cut}
    assert listed(field_problems="no") == {clean}

    MIGRATION.to_objects(apps, None)  # the reverse: objects again
    assert json_loads(stored_text(cut)) == [outcome("Title", "truncated", "cut to 40")]
    assert Lead.objects.get(pk=cut.pk).field_outcomes == [outcome("Title", "truncated", "cut to 40")]
