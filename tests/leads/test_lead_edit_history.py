"""Fixing a failed lead's answers in the admin and the lead's history: an edit changes the answers
LeadSync read (never what LinkedIn sent) and is recorded with before and after; a bad edit changes
nothing; a synced lead is read-only; retries are recorded; the history lists the pull, each push and
each event in order, in a bounded number of queries; erasing the person clears the edits' values."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads import events
from leads.answers import AnswerEditRefused, lead_answers_edit
from leads.models import Lead, LeadAttempt, LeadEvent
from leads.people import leads_retention_purge, person_erase
from tests import factories
from tests.leads.test_admin_review import ANSWERS, failed_lead, integration, lead_page, section  # noqa: F401

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def staff(client, django_user_model):
    """Staff with exactly the lead view and change permissions, nothing else."""
    user = django_user_model.objects.create_user("rhea", password="pw-rhea-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leads",
                                                         codename__in=["view_lead", "change_lead"]))
    client.force_login(user)
    return client


def edit_url(lead):
    return reverse("admin:leads_lead_answers", args=[lead.pk])


def form_data(client, lead, **changes):
    """The edit form as the page fills it, with the boxes whose labels are given changed."""
    form = client.get(edit_url(lead)).context["form"]
    data = {name: form[name].value() for name in form.fields}
    for label, value in changes.items():
        [name] = [name for name, field in form.fields.items() if field.label == label]
        data[name] = value
    return data


def test_an_edit_changes_the_answers_not_the_raw_lead_and_is_recorded(staff, integration):
    lead = failed_lead(integration)
    raw = dict(lead.raw)
    assert edit_url(lead) in lead_page(staff, lead)

    response = staff.post(edit_url(lead), form_data(staff, lead, **{"Email": "ana.fixed@example.com",
                                                                    "Which track?": "Cloud\n"}), follow=True)

    assert "Changed 2 answer(s)" in response.content.decode()
    lead.refresh_from_db()
    assert lead.answers["answers"]["2"]["value"] == "ana.fixed@example.com"
    assert lead.answers["answers"]["3"]["value"] == ["Cloud"]
    assert lead.answers["answers"]["1"] == ANSWERS["answers"]["1"] and lead.answers["consents"] == ANSWERS["consents"]
    assert lead.email == "ana.fixed@example.com", "the push matches on the e-mail column"
    assert lead.raw == raw and lead.state == "failed"
    [event] = LeadEvent.objects.filter(lead=lead)
    assert (event.kind, event.actor, event.via) == ("edited", "rhea", "admin")
    assert event.detail["changes"] == [
        {"kind": "question", "key": "2", "before": "ana@example.com", "after": "ana.fixed@example.com"},
        {"kind": "question", "key": "3", "before": ["Security"], "after": ["Cloud"]},
    ]


def test_save_and_retry_queues_the_edited_lead_and_records_the_retry(
    staff, integration, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr("leads.tasks.retry_failed.delay", lambda *args, **kw: calls.append((args, kw)))
    lead = failed_lead(integration)
    data = {**form_data(staff, lead, **{"First name": "Anna"}), "_retry": "Save and retry"}
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(edit_url(lead), data)
    assert calls == [((integration.pk,), {"lead_ids": [lead.pk]})]
    assert list(LeadEvent.objects.filter(lead=lead).values_list("kind", "actor", "via")) == [
        ("edited", "rhea", "admin"), ("retried", "rhea", "admin")]


@pytest.mark.parametrize("label, value", [
    ("Email", "not an address"),
    ("First name", "x" * 4001),
    ("First name", "Ana\x00"),
])
def test_a_bad_edit_is_refused_and_changes_nothing(staff, integration, label, value):
    lead = failed_lead(integration)
    before = Lead.objects.get(pk=lead.pk)
    response = staff.post(edit_url(lead), form_data(staff, lead, **{label: value, "Which track?": "Cloud"}))
    assert response.status_code == 200 and "The answers were not changed" in response.content.decode()
    after = Lead.objects.get(pk=lead.pk)
    assert (after.answers, after.raw, after.email, after.updated_at) == (before.answers, before.raw, before.email,
                                                                         before.updated_at)
    assert not LeadEvent.objects.exists()


def test_the_service_refuses_other_shapes_and_unknown_keys_as_a_whole(integration):
    lead = failed_lead(integration)
    for values in ({("question", "1"): ["a", "list"]}, {("question", "3"): "a text"},
                   {("question", "99"): "new"}, {("consent", "7"): False},
                   {("hidden", "utm_source"): "ok", ("question", "1"): 5}):
        with pytest.raises(AnswerEditRefused):
            lead_answers_edit(lead=lead, values=values, actor="cli", via="cli")
    assert Lead.objects.get(pk=lead.pk).answers == ANSWERS and not LeadEvent.objects.exists()
    assert lead_answers_edit(lead=lead, values={("question", "1"): "Ana"}, actor="cli", via="cli") == []
    assert not LeadEvent.objects.exists(), "nothing changed, nothing recorded"


def test_a_synced_lead_is_read_only(staff, integration):
    lead = failed_lead(integration, state="synced", crm_id="42")
    assert edit_url(lead) not in lead_page(staff, lead)
    response = staff.post(edit_url(lead), {"a0": "Changed"}, follow=True)
    assert "answers are read-only" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).answers == ANSWERS and not LeadEvent.objects.exists()
    with pytest.raises(AnswerEditRefused):
        lead_answers_edit(lead=lead, values={("question", "1"): "Changed"}, actor="cli", via="cli")


def test_staff_without_the_change_permission_cannot_edit(client, django_user_model, integration):
    user = django_user_model.objects.create_user("vic", password="pw-vic-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="leads", codename="view_lead"))
    client.force_login(user)
    lead = failed_lead(integration)
    assert "Edit the answers" not in lead_page(client, lead)
    assert client.get(edit_url(lead)).status_code == 403
    assert client.post(edit_url(lead), {"a0": "Changed"}).status_code == 403
    assert Lead.objects.get(pk=lead.pk).answers == ANSWERS


def test_the_retry_action_records_who_retried_which_failed_leads(staff, integration, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    monkeypatch.setattr("leads.tasks.retry_failed.delay", lambda *args, **kw: None)
    failed, synced = failed_lead(integration), failed_lead(integration, state="synced", email="s@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("admin:leads_lead_changelist"),
                   {"action": "retry", "_selected_action": [failed.pk, synced.pk]})
    assert list(LeadEvent.objects.values_list("lead_id", "kind", "actor", "via")) == [
        (failed.pk, "retried", "rhea", "admin")]


def test_the_history_lists_the_pull_the_pushes_and_the_events_in_order(staff, integration):
    lead = failed_lead(integration)
    t0 = lead.created_at
    run = factories.sync_run(integration, trigger="schedule", state="succeeded", started_at=t0 - timedelta(seconds=5),
                             finished_at=t0 + timedelta(minutes=1))
    LeadAttempt.objects.create(lead=lead, run=run, at=t0 + timedelta(seconds=10), number=1, outcome="failed",
                               error_code="205", message="Invalid parameters")
    LeadEvent.objects.create(lead=lead, at=t0 + timedelta(minutes=5), kind="edited", actor="rhea", via="admin",
                             detail={"changes": [{"kind": "question", "key": "3", "before": ["Security"],
                                                  "after": ["Cloud"]}]})
    LeadEvent.objects.create(lead=lead, at=t0 + timedelta(minutes=6), kind="retried", actor="cli", via="cli",
                             detail={"run": run.pk})
    LeadAttempt.objects.create(lead=lead, at=t0 + timedelta(minutes=7), number=2, outcome="synced", crm_id="9")

    history = section(lead_page(staff, lead), "lead-history")

    rows = history.split('class="ls-history ')[1:]
    assert [row.split('data-kind="')[1].split('"')[0] for row in rows] == ["pulled", "push", "edited", "retried", "push"]
    assert f"Schedule run {run.pk}" in rows[0] and "205 Invalid parameters" in rows[1]
    assert "question 3: Security → Cloud" in rows[2] and "rhea" in rows[2]
    assert f"Retry run {run.pk}" in rows[3] and "Command line" in rows[3]


@pytest.mark.usefixtures("health_cached")
def test_the_lead_page_costs_the_same_queries_for_a_long_history_as_for_a_short_one(staff, integration):
    counts = {}
    for n in (1, 20):
        lead = failed_lead(integration, email=f"h{n}@example.com")
        run = factories.sync_run(integration, started_at=lead.created_at, finished_at=lead.created_at)
        for i in range(n):
            LeadAttempt.objects.create(lead=lead, run=factories.sync_run(integration), at=timezone.now(), number=i + 1,
                                       outcome="failed")
        for kind in ("edited", "retried") * n:
            events.record(lead, kind, "rhea", "admin", detail={"run": run.pk})
        with CaptureQueriesContext(connection) as queries:
            html = lead_page(staff, lead)
        assert section(html, "lead-history").count('class="ls-history ') == 1 + 3 * n
        counts[n] = len(queries.captured_queries)
    assert counts[1] == counts[20], counts


def test_record_writes_many_leads_events_in_one_insert(integration):
    leads = [failed_lead(integration, email=f"m{i}@example.com") for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        events.record(leads, "retried", "cli", "cli", detail={"run": 7})
    assert len(queries.captured_queries) == 1
    assert LeadEvent.objects.filter(kind="retried", detail={"run": 7}).count() == 5


def edited(lead):
    lead_answers_edit(lead=lead, values={("question", "1"): "Anastasia", ("hidden", "utm_source"): "mail"},
                      actor="rhea", via="admin")
    events.record(lead, "note", "rhea", "admin", detail={"text": "called Ana at +1 555 0100"})


def test_erasing_the_person_clears_the_values_their_history_kept(integration):
    lead = failed_lead(integration)
    edited(lead)

    person_erase(email="ana@example.com", via="cli", requested_by="cli")

    history = list(LeadEvent.objects.filter(lead=lead).order_by("pk"))
    assert [e.kind for e in history] == ["edited", "note", "erased"]
    assert history[0].detail == {"changes": [{"kind": "question", "key": "1"}, {"kind": "hidden", "key": "utm_source"}]}
    assert history[1].detail == {} and (history[2].actor, history[2].via) == ("cli", "cli")
    assert not any(word in str(e.detail) for e in history for word in ("Ana", "mail", "555", "linkedin"))


def test_the_retention_purge_clears_the_values_their_history_kept(integration):
    lead, kept = failed_lead(integration), failed_lead(integration, email="kept@example.com")
    edited(lead), edited(kept)
    Lead.objects.filter(pk=lead.pk).update(submitted_at=timezone.now() - timedelta(days=400))

    assert leads_retention_purge(days=365) == 1

    assert "Anastasia" not in str(list(LeadEvent.objects.filter(lead=lead).values_list("detail", flat=True)))
    assert LeadEvent.objects.filter(lead=lead, kind="erased", actor="retention", via="schedule").count() == 1
    assert "Anastasia" in str(LeadEvent.objects.get(lead=kept, kind="edited").detail), "a recent lead's are kept"


# --- the CLI twins ---------------------------------------------------------------------------------


def test_edit_answers_from_the_cli_sets_texts_and_choices_and_is_recorded_as_cli(integration):
    from tests.e2e.conftest import run_cli

    lead = failed_lead(integration)
    result = run_cli("edit-answers", lead.linkedin_id, "--answer", "1=Anna", "--answer", "3=Cloud", "--answer",
                     "3=Data & AI", "--hidden", "utm_source=mail", "--json")
    assert result.code == 0, result.out + result.err
    assert [(c["key"], c["after"]) for c in result.json["changes"]] == [
        ("1", "Anna"), ("3", ["Cloud", "Data & AI"]), ("utm_source", "mail")]
    lead.refresh_from_db()
    assert lead.answers["answers"]["3"]["value"] == ["Cloud", "Data & AI"] and lead.answers["hidden_fields"] == {
        "utm_source": "mail"}
    assert list(LeadEvent.objects.values_list("kind", "actor", "via")) == [("edited", "cli", "cli")]

    history = run_cli("history", lead.linkedin_id, "--json")
    assert history.code == 0 and [e["kind"] for e in history.json["history"]] == ["pulled", "edited"]
    assert "question 1: Ana → Anna" in run_cli("history", lead.linkedin_id).out


@pytest.mark.parametrize("args, code", [
    (["--answer", "99=new"], 2),                      # no such question
    (["--answer", "2=not an address"], 2),            # an e-mail question takes an address
    (["--answer", "1=a", "--answer", "1=b"], 2),      # a text question takes one text
    (["--answer", "oops"], 2),
    ([], 2),
])
def test_a_bad_edit_from_the_cli_is_bad_usage_and_changes_nothing(integration, args, code):
    from tests.e2e.conftest import run_cli

    lead = failed_lead(integration)
    assert run_cli("edit-answers", lead.linkedin_id, *args, "--json").code == code
    assert Lead.objects.get(pk=lead.pk).answers == ANSWERS and not LeadEvent.objects.exists()


def test_a_synced_lead_cannot_be_edited_from_the_cli_either(integration):
    from tests.e2e.conftest import run_cli

    lead = failed_lead(integration, state="synced")
    result = run_cli("edit-answers", lead.linkedin_id, "--answer", "1=Anna", "--json")
    assert result.code == 1 and "cannot be edited" in result.out + result.err
    assert run_cli("edit-answers", "no-such-lead", "--answer", "1=Anna").code == 2
    assert Lead.objects.get(pk=lead.pk).answers == ANSWERS and not LeadEvent.objects.exists()


def test_the_person_export_carries_the_history_of_their_leads(integration):
    from leads.people import person_export

    lead = failed_lead(integration)
    edited(lead)
    [exported] = person_export(email="ana@example.com", via="cli", requested_by="cli")["leads"]
    assert [e["kind"] for e in exported["history"]] == ["edited", "note"]
    assert exported["history"][0]["detail"]["changes"][0] == {"kind": "question", "key": "1", "before": "Ana",
                                                              "after": "Anastasia"}


def test_a_pending_lead_a_sync_is_pushing_is_not_edited_until_the_sync_ends(staff, integration):
    from leads.pipeline.locks import integration_lock_acquire, integration_lock_release

    lead = failed_lead(integration, state="pending")
    data = form_data(staff, lead, **{"First name": "Anna"})
    token = integration_lock_acquire(integration=integration)
    response = staff.post(edit_url(lead), data)
    assert "is pushing it" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).answers == ANSWERS and not LeadEvent.objects.exists()
    integration_lock_release(integration=integration, token=token)
    staff.post(edit_url(lead), data)
    assert Lead.objects.get(pk=lead.pk).answers["answers"]["1"]["value"] == "Anna"


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the task is queued at once
def test_a_retry_that_could_not_be_queued_is_not_on_the_history(staff, integration, monkeypatch):
    def broker_down(*args, **kw):
        raise ConnectionRefusedError

    monkeypatch.setattr("leads.tasks.retry_failed.delay", broker_down)
    lead = failed_lead(integration)
    response = staff.post(reverse("admin:leads_lead_retry", args=[lead.pk]), follow=True)
    assert "Could not queue the work" in response.content.decode()
    assert not LeadEvent.objects.exists()


def test_the_integration_s_retry_action_records_each_failed_lead_it_retries(
    admin_client, integration, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("leads.tasks.retry_failed.delay", lambda *args, **kw: None)
    failed, synced = failed_lead(integration), failed_lead(integration, state="synced", email="s@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:mappings_integration_changelist"),
                          {"action": "retry_failed_leads", "_selected_action": [integration.pk]})
    assert list(LeadEvent.objects.values_list("lead_id", "kind", "actor", "via")) == [
        (failed.pk, "retried", "admin", "admin")]
    assert not synced.events.exists()
