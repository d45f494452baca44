"""The lead list's review tools: filters by CRM error code (the codes failed leads have now), by
kind of field problem (refused by the CRM, a value that did not fit, a value cut short) and by age;
and the bulk retry of every failed lead that shares the selected ones' error, in the admin
("Retry all failed with the same error") and from the CLI (`leadsync retry-failed --error CODE`).
The field-problem match reads the outcomes' JSON text: also run on PostgreSQL by `make test`."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import tasks
from leads.dashboard import day_start
from leads.models import Lead
from leads.pipeline import sync as pipeline_sync
from leads.pipeline.push import PushCounts
from leads.pipeline.writes import rows_update
from leads.review import leads_ignore
from mappings.models import Integration
from tests import factories
from tests.e2e.conftest import run_cli

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

CHANGELIST = reverse("admin:leads_lead_changelist")


def outcome(crm_field, status, message=""):
    return {"source_kind": "question", "source_key": crm_field, "crm_field": crm_field, "status": status,
            "message": message}


def listed(client, **params):
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


@pytest.fixture
def integration():
    return factories.integration()


def failed(integration, code, **kw):
    return factories.lead(integration, state="failed", error_code=code, last_error=f"CRM error {code}", **kw)


# --- by CRM error code ----------------------------------------------------------------------------

def test_the_error_code_filter_offers_the_codes_of_failed_leads_with_their_counts(reviewer, integration):
    a, b, c = failed(integration, "205"), failed(integration, "205"), failed(integration, "301")
    factories.lead(integration, state="synced", error_code="")
    factories.lead(integration, state="pending", error_code="lost")  # waiting for a retry: not offered

    response = reviewer.get(CHANGELIST)
    [spec] = [f for f in response.context["cl"].filter_specs if getattr(f, "parameter_name", "") == "error_code"]
    assert spec.lookup_choices == [("205", "205 (2)"), ("301", "301 (1)")]
    assert listed(reviewer, error_code="205") == {a, b}
    assert listed(reviewer, error_code="301") == {c}


# --- by field problem -----------------------------------------------------------------------------

@pytest.mark.parametrize("written_by", ["save", "push"])
def test_the_field_problem_filter_tells_refused_invalid_and_truncated_fields_apart(reviewer, integration, written_by):
    """Whether the outcomes were saved by the ORM (json.dumps: `["a", "b"]`) or written by the push
    (rows_update, orjson: `["a","b"]`), the same leads match."""
    refused = factories.lead(integration, state="synced", field_outcomes=[
        outcome("firstName", "ok"),
        outcome("companyName", "error", "refused by the CRM, left out: CRM error 205: Invalid parameters")])
    invalid = factories.lead(integration, state="failed", field_outcomes=[
        outcome("Track_1", "error", "'Security' is not an option of Track_1 (Data & AI, Cloud)")])
    empty_message = factories.lead(integration, state="failed", field_outcomes=[outcome("x", "error")])
    cut = factories.lead(integration, state="synced", field_outcomes=[outcome("title", "truncated", "cut to 40")])
    both = factories.lead(integration, state="synced", field_outcomes=[
        outcome("a", "error", "refused by the CRM, left out: CRM error 208"),
        outcome("b", "error", "crm field already set by question:1")])
    clean = factories.lead(integration, state="synced", field_outcomes=[outcome("firstName", "ok"),
                                                                         outcome("x", "empty")])
    if written_by == "push":
        leads = list(Lead.objects.all())
        rows_update(leads, ["field_outcomes"])

    assert listed(reviewer, field_problems="refused") == {refused, both}
    assert listed(reviewer, field_problems="invalid") == {invalid, empty_message, both}
    assert listed(reviewer, field_problems="truncated") == {cut}
    assert listed(reviewer, field_problems="yes") == {refused, invalid, empty_message, cut, both}
    assert listed(reviewer, field_problems="no") == {clean}


# --- by age ---------------------------------------------------------------------------------------

def test_the_age_filter_counts_whole_days_as_the_dashboard_does(reviewer, integration):
    today = day_start(timezone.now())
    now = factories.lead(integration, submitted_at=timezone.now())
    three = factories.lead(integration, submitted_at=today - timedelta(days=3))
    twenty = factories.lead(integration, submitted_at=today - timedelta(days=20))
    forty = factories.lead(integration, submitted_at=today - timedelta(days=40))

    assert listed(reviewer, submitted="today") == {now}
    assert listed(reviewer, submitted="7d") == {now, three}
    assert listed(reviewer, submitted="30d") == {now, three, twenty}
    assert listed(reviewer, submitted="older") == {forty}


# --- retry every failed lead with the same error ---------------------------------------------------

@pytest.fixture
def pushed(monkeypatch):
    """The push of a retry replaced by one that syncs what it is given and records which leads."""
    seen = []

    def push(*, integration, leads_qs=None, run=None, **kw):
        leads = list(leads_qs)
        seen.extend(lead.linkedin_id for lead in leads)
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(state="synced")
        if run is not None:
            run.progress_total = len(leads)
        return PushCounts(updated=len(leads))

    monkeypatch.setattr(pipeline_sync, "leads_push", push)
    return seen


def test_retry_all_with_the_same_error_takes_every_page_and_integration_but_no_other_error(
    reviewer, integration, pushed, monkeypatch, django_capture_on_commit_callbacks
):
    other = factories.integration()
    gone = factories.integration(state=Integration.State.TORN_DOWN)
    picked = failed(integration, "205")
    same = [failed(integration, "205") for _ in range(3)] + [failed(other, "205")]
    not_same = [failed(integration, "301"), failed(gone, "205")]
    ignored = failed(integration, "205")
    leads_ignore(leads=Lead.objects.filter(pk=ignored.pk), reason="dup", by="rita")
    queued = []
    monkeypatch.setattr(tasks.retry_failed, "delay", lambda *args, **kw: queued.append((args, kw)))

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(CHANGELIST, {"action": "retry_same_error", "_selected_action": [picked.pk]},
                                 follow=True)

    assert sorted(queued) == sorted([((integration.pk,), {"error_codes": ["205"]}),
                                     ((other.pk,), {"error_codes": ["205"]})])
    assert "Queued a retry of 5 failed lead(s) with error 205 in 2 integration(s)" in response.content.decode()
    for args, kw in queued:  # what the worker does with them
        tasks.retry_failed(*args, **kw)
    assert sorted(pushed) == sorted(lead.linkedin_id for lead in [picked, *same])
    assert all(Lead.objects.get(pk=lead.pk).state == "failed" for lead in not_same)
    assert Lead.objects.get(pk=ignored.pk).state == "ignored"


def test_retry_with_the_same_error_says_so_when_no_selected_lead_failed(reviewer, integration, monkeypatch):
    lead = factories.lead(integration, state="synced")
    monkeypatch.setattr(tasks.retry_failed, "delay", lambda *a, **kw: pytest.fail("nothing to queue"))
    response = reviewer.post(CHANGELIST, {"action": "retry_same_error", "_selected_action": [lead.pk]}, follow=True)
    assert "None of the selected leads has failed with an error code" in response.content.decode()


def test_the_cli_retries_only_the_leads_failed_with_that_error(pushed):
    a, b = factories.integration(state=Integration.State.ACTIVE), factories.integration(state=Integration.State.ACTIVE)
    wanted = [failed(a, "205"), failed(b, "205")]
    others = [failed(a, "301"), failed(b, "lost")]

    result = run_cli("retry-failed", "--error", "205", "--json")

    assert result.code == 0, result.out + result.err
    assert sorted(pushed) == sorted(lead.linkedin_id for lead in wanted)
    assert result.json["retried"] == 2 and result.json["error_codes"] == ["205"]
    assert all(Lead.objects.get(pk=lead.pk).state == "failed" for lead in others)

    pushed.clear()
    named = run_cli("retry-failed", a.form.linkedin_id, "--error", "301")
    assert named.code == 0 and pushed == [others[0].linkedin_id]
    assert "retried 1 failed lead(s) with error 301" in named.out


def test_the_cli_retries_nothing_for_a_code_no_failed_lead_has(pushed):
    integration = factories.integration(state=Integration.State.ACTIVE)
    failed(integration, "205")
    result = run_cli("retry-failed", "--error", "999", "--json")
    assert result.code == 0 and result.json["retried"] == 0 and result.json["runs"] == [] and not pushed


@pytest.mark.parametrize("code", ["", "20 5", "205;drop", "x" * 21])
def test_the_cli_refuses_a_malformed_error_code(pushed, code):
    integration = factories.integration(state=Integration.State.ACTIVE)
    lead = failed(integration, "205")
    result = run_cli("retry-failed", "--error", code)
    assert result.code == 2 and "is not an error code" in result.err
    assert not pushed and Lead.objects.get(pk=lead.pk).state == "failed"
