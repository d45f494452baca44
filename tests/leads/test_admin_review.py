"""Reviewing leads in the admin: the lead page says why a lead failed (the CRM's answer, each
field's outcome, what the mapping makes of it now), shows the answers as tables and the payload
folded, escapes whatever a member typed, links to a mapping the reviewer can edit, and retries.
The list finds the leads with field problems on SQLite and on PostgreSQL."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Lead
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

XSS = "<script>alert(1)</script>"


def outcome(key, crm_field, status, message="", kind="question"):
    return {"source_kind": kind, "source_key": key, "crm_field": crm_field, "status": status, "message": message}


@pytest.fixture
def integration():
    crm = factories.crm_connection()
    for name, label, data_type in [("firstName", "First Name", "text"), ("emailAddress", "Email", "text"),
                                   ("leadScore", "Lead Score", "int")]:
        factories.crm_field(crm, system_name=name, label=label, data_type=data_type, is_custom=False)
    factories.crm_field(crm, system_name="Track_1", label="Track", options=["Data & AI", "Cloud"])
    integration = factories.integration(crm=crm)
    factories.field_mapping(integration, source_key="1", source_label="First name", crm_field="firstName")
    factories.field_mapping(integration, source_key="2", source_label="Email", crm_field="emailAddress")
    factories.field_mapping(integration, source_key="3", source_label="Track", crm_field="Track_1")
    factories.field_mapping(integration, source_kind="hidden", source_key="utm_source", source_label="utm_source",
                            crm_field="")
    return integration


ANSWERS = {
    "answers": {
        "1": {"name": "firstName", "text": "First name", "predefined_field": "FIRST_NAME", "type": "text",
              "value": "Ana"},
        "2": {"name": "email", "text": "Email", "predefined_field": "EMAIL", "type": "text",
              "value": "ana@example.com"},
        "3": {"name": "track", "text": "Which track?", "type": "multiple_choice", "value": ["Security"]},
    },
    "consents": {"7": {"text": "Send me news", "accepted": True}},
    "hidden_fields": {"utm_source": "linkedin"},
    "errors": [],
}


def failed_lead(integration, **kw):
    defaults = dict(
        state="failed", email="ana@example.com", answers=ANSWERS, attempts=1,
        last_error="CRM error 205: Invalid parameters",
        field_outcomes=[outcome("1", "firstName", "ok"), outcome("2", "emailAddress", "ok"),
                        outcome("3", "Track_1", "error", "'Security' is not an option of Track_1 (Data & AI, Cloud)"),
                        outcome("utm_source", "", "unmapped", "no CRM field", kind="hidden")],
        raw={"id": "raw-1", "formResponse": {"answers": [{"questionId": 1, "answer": "Ana"}]}},
    )
    return factories.lead(integration, **{**defaults, **kw})


def lead_page(client, lead):
    response = client.get(reverse("admin:leads_lead_change", args=[lead.pk]))
    assert response.status_code == 200
    return response.content.decode()


def section(html, element_id):
    """The HTML of one part of the lead page, from its id to the end of its fieldset (or details)."""
    start = html.index(f'id="{element_id}"')
    end = html.index("</details>" if element_id == "raw-payload" else "</fieldset>", start)
    return html[start:end]


def test_the_outcomes_are_a_table_with_a_coloured_status_and_a_link_to_each_row(reviewer, integration):
    lead = failed_lead(integration)
    html = lead_page(reviewer, lead)
    outcomes = section(html, "field-outcomes")
    assert outcomes.count('class="ls-outcome"') == 4
    assert "Question “Track”" in outcomes and 'Track<code class="ls-name">Track_1</code>' in outcomes
    assert 'class="ls-status ls-status-error"' in outcomes and 'class="ls-status ls-status-unmapped"' in outcomes
    assert "&#x27;Security&#x27; is not an option of Track_1 (Data &amp; AI, Cloud)" in outcomes
    track = integration.mappings.get(source_key="3")
    # Saving the row leads back to the integration's mapping (the admin's preserved filters).
    assert (f'{reverse("admin:mappings_fieldmapping_change", args=[track.pk])}'
            f'?_changelist_filters=integration__id__exact%3D{integration.pk}') in outcomes
    assert "&quot;status&quot;" not in html and '"status": "error"' not in html  # no JSON dump of the outcomes


def test_the_last_error_is_the_first_thing_on_the_page(reviewer, integration):
    html = lead_page(reviewer, failed_lead(integration))
    problem = html.index('id="lead-problem"')
    assert problem < html.index('id="field-outcomes"') and problem < html.index("field-state")
    assert "CRM error 205: Invalid parameters" in html[problem:html.index("</div>", problem)]


def test_the_answers_are_tables_and_the_payload_is_folded_at_the_bottom(reviewer, integration):
    html = lead_page(reviewer, failed_lead(integration))
    answers = section(html, "lead-answers")
    assert "Which track?" in answers and "Security" in answers and "(FIRST_NAME)" in answers
    assert "utm_source" in answers and "linkedin" in answers
    assert "Send me news" in answers and ">yes<" in answers
    raw = section(html, "raw-payload")
    assert '<details class="module ls-raw" id="raw-payload">' in html  # folded: no `open`
    assert "&quot;formResponse&quot;" in raw
    assert html.index('id="raw-payload"') > html.index('id="lead-answers"') > html.index('id="field-outcomes"')


def test_what_a_member_typed_is_shown_as_text_everywhere(reviewer, integration):
    answers = {
        "answers": {"1": {"text": XSS, "value": XSS}, "2": {"text": "Email", "value": "x@example.com"}},
        "consents": {"7": {"text": XSS, "accepted": False}},
        "hidden_fields": {XSS: XSS},
        "errors": [{"source": XSS, "message": XSS}],
    }
    lead = failed_lead(integration, answers=answers, raw={"id": XSS}, last_error=f"CRM error 205: {XSS}",
                       field_outcomes=[outcome("1", "firstName", "error", XSS)])
    html = lead_page(reviewer, lead)
    assert XSS not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7


def test_the_preview_shows_what_a_retry_would_send_with_the_mapping_as_it_is_now(reviewer, integration):
    integration.mappings.filter(source_key="utm_source").update(crm_field="leadScore")
    html = lead_page(reviewer, failed_lead(integration))
    preview = section(html, "mapping-preview")
    assert "ana@example.com" in preview and ">Ana<" in preview
    assert "ls-status-error" in preview  # the track is still not an option of the picklist
    assert "leadScore is a number field" in preview  # the engine keeps it from the CRM (which would refuse the lead)


@pytest.mark.usefixtures("health_cached")
def test_the_lead_page_costs_the_same_queries_for_30_mapping_rows_as_for_5(reviewer, integration):
    counts = {}
    for n in (5, 30):
        integ = factories.integration(crm=integration.crm_connection)
        factories.field_mapping(integ, source_key="2", source_label="Email", crm_field="emailAddress")
        for i in range(n - 1):
            factories.field_mapping(integ, source_kind="hidden", source_key=f"h{i}", crm_field="")
        lead = failed_lead(integ, email=f"n{n}@example.com",
                           field_outcomes=[outcome(f"h{i}", "", "unmapped", kind="hidden") for i in range(n - 1)])
        with CaptureQueriesContext(connection) as queries:
            lead_page(reviewer, lead)
        counts[n] = len(queries.captured_queries)
    assert counts[5] == counts[30], counts


def test_a_deleted_lead_shows_that_nothing_is_kept(reviewer, integration):
    lead = factories.lead(integration, state="deleted", answers={}, raw={}, email="")
    html = lead_page(reviewer, lead)
    assert "nothing about the person is kept" in html and 'id="mapping-preview"' not in html


# --- the list --------------------------------------------------------------------------------------


def changelist(client, **params):
    response = client.get(reverse("admin:leads_lead_changelist"), params)
    assert response.status_code == 200
    return response


def test_the_field_problems_filter_finds_errors_and_truncations_in_any_state(reviewer, integration):
    """Matched on the outcomes' JSON text, which is stored the same way on SQLite and PostgreSQL."""
    error = factories.lead(integration, state="synced", field_outcomes=[
        outcome("1", "firstName", "ok"), outcome("3", "Track_1", "error", "not an option")])
    truncated = factories.lead(integration, state="failed", field_outcomes=[outcome("1", "firstName", "truncated")])
    clean = factories.lead(integration, state="synced", field_outcomes=[
        outcome("1", "firstName", "ok", 'no "status": "error" here, only words'), outcome("3", "", "unmapped")])
    never_pushed = factories.lead(integration, field_outcomes=[])

    found = set(changelist(reviewer, field_problems="yes").context["cl"].result_list)
    assert found == {error, truncated}
    assert set(changelist(reviewer, field_problems="no").context["cl"].result_list) == {clean, never_pushed}
    failed = changelist(reviewer, field_problems="yes", state__exact="failed").context["cl"].result_list
    assert set(failed) == {truncated}


def test_each_lead_links_to_the_mapping_a_reviewer_can_edit(reviewer, integration):
    lead = failed_lead(integration)
    other = factories.lead()
    html = changelist(reviewer).content.decode()
    url = reverse("admin:mappings_fieldmapping_changelist")
    for integ in (integration, other.integration):
        assert f'href="{url}?integration__id__exact={integ.pk}"' in html
    editor = reviewer.get(f"{url}?integration__id__exact={lead.integration_id}").content.decode()
    assert '<select name="form-0-crm_field"' in editor


def test_retry_this_lead_queues_it_from_its_page(
    reviewer, integration, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr("leads.tasks.retry_failed.delay", lambda *args, **kw: calls.append((args, kw)))
    lead = failed_lead(integration)
    url = reverse("admin:leads_lead_retry", args=[lead.pk])
    assert url in lead_page(reviewer, lead)
    assert reviewer.get(url).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(url, follow=True)
    assert calls == [((integration.pk,), {"lead_ids": [lead.pk]})]
    assert "Queued a retry of 1 failed lead(s)" in response.content.decode()

    Lead.objects.filter(pk=lead.pk).update(state="synced")
    assert url not in lead_page(reviewer, lead)


def test_staff_without_the_change_permission_cannot_retry(client, django_user_model, integration):
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="leads", codename="view_lead"))
    client.force_login(user)
    lead = failed_lead(integration)
    assert "Retry this lead" not in lead_page(client, lead)
    assert client.post(reverse("admin:leads_lead_retry", args=[lead.pk])).status_code == 403
