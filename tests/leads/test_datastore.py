"""The local datastore of each form (LGF-104) and the CSV exports: a form's table has a column per
question, hidden field and consent with each lead's values, holds only that form's leads, filters,
searches and sorts like the lead list; an export carries exactly the rows of the filters it was
asked from, neutralises spreadsheet formulas, streams with a bounded number of queries, and is
refused (with no data) to staff who may not export personal data."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Lead
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

DEFINITION = {
    "questions": [
        {"id": "1", "name": "firstName", "text": "First name", "predefined_field": "FIRST_NAME", "type": "text",
         "required": True, "max_length": 300, "options": [], "label": None},
        {"id": "2", "name": "email", "text": "Email", "predefined_field": "EMAIL", "type": "text",
         "required": True, "max_length": 300, "options": [], "label": None},
        {"id": "3", "name": "topics", "text": "Which topics?", "predefined_field": None, "type": "multiple_choice",
         "required": False, "max_length": None, "label": "Topics",
         "options": [{"id": "31", "text": "Data & AI", "label": None}, {"id": "32", "text": "Cloud", "label": None}]},
    ],
    "hidden_fields": [{"name": "utm_source", "value": "{{UTM_SOURCE}}"}],
    "consents": [{"id": "7", "text": "I agree to be contacted about the event.", "required": False, "label": None}],
}
OLDER = {
    "questions": [
        DEFINITION["questions"][0],
        {"id": "9", "name": "company", "text": "Company", "predefined_field": "COMPANY_NAME", "type": "text",
         "required": False, "max_length": 300, "options": [], "label": None},
    ],
    "hidden_fields": [], "consents": [],
}
HEADER = ["LinkedIn response ID", "Submitted at", "State", "E-mail", "Test lead", "Form version", "CRM lead ID",
          "First name", "Email", "Topics", "Company (older version)", "utm_source (hidden field)",
          "Consent: I agree to be contacted about the event."]


def answers(first, email, topics=(), utm="linkedin", consent=None, company=None):
    stored = {
        "answers": {
            "1": {"name": "firstName", "text": "First name", "type": "text", "value": first, "option_ids": []},
            "2": {"name": "email", "text": "Email", "type": "text", "value": email, "option_ids": []},
            "3": {"name": "topics", "text": "Which topics?", "type": "multiple_choice", "value": list(topics),
                  "option_ids": []},
        },
        "hidden_fields": {"utm_source": utm},
        "consents": {} if consent is None else {"7": {"text": "I agree", "accepted": consent}},
        "errors": [],
    }
    if company is not None:
        stored["answers"]["9"] = {"name": "company", "text": "Company", "type": "text", "value": company}
    return stored


@pytest.fixture
def form():
    form = factories.lead_form(current_version=2)
    form.versions.update(definition={"form_id": form.linkedin_id, "version": 2, **DEFINITION})
    form.versions.create(version=1, definition={"form_id": form.linkedin_id, "version": 1, **OLDER})
    return form


@pytest.fixture
def integration(form):
    return factories.integration(form=form)


@pytest.fixture
def ada(integration):
    return factories.lead(integration, email="ada@example.com", form_version=2, state="synced", crm_id="C-1",
                          answers=answers("Ada", "ada@example.com", ["Data & AI", "Cloud"], consent=True))


@pytest.fixture
def grace(integration):
    return factories.lead(integration, email="grace@example.com", form_version=1, state="failed",
                          last_error="CRM error 205", test_lead=True,
                          answers=answers("Grace", "grace@example.com", utm="mail", consent=False, company="Navy"))


@pytest.fixture
def stranger():
    """A lead of another form."""
    return factories.lead(email="stranger@example.com", state="failed",
                          answers=answers("Stranger", "stranger@example.com"))


@pytest.fixture
def staff_client(client, django_user_model):
    """Staff who may view and change leads but not export them."""
    user = django_user_model.objects.create_user("vera", password="pw-vera-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leads",
                                                         codename__in=["view_lead", "change_lead"]))
    client.force_login(user)
    return client


def table_url(form, query=""):
    return reverse("admin:leads_lead_form_table", args=[form.pk]) + query


def form_export_url(form, query=""):
    return reverse("admin:leads_lead_form_export", args=[form.pk]) + query


def read_csv(response):
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    body = b"".join(response.streaming_content)
    assert not body.startswith(b"\xef\xbb\xbf"), "no byte order mark"
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def rows_by_id(rows):
    header, *data = rows
    return {row[0]: dict(zip(header, row)) for row in data}


def test_a_forms_table_has_a_column_per_question_with_each_leads_values(admin_client, form, ada, grace):
    response = admin_client.get(table_url(form))
    assert response.status_code == 200
    assert [c.label for c in response.context["columns"]] == HEADER
    cells = {row["cells"][0][1]: dict(row["cells"]) for row in response.context["rows"]}
    assert cells[ada.linkedin_id]["question:1"] == "Ada"
    assert cells[ada.linkedin_id]["question:3"] == "Data & AI, Cloud"
    assert cells[ada.linkedin_id]["hidden:utm_source"] == "linkedin"
    assert cells[ada.linkedin_id]["consent:7"] == "yes"
    assert cells[ada.linkedin_id]["question:9"] == ""
    assert cells[grace.linkedin_id]["question:1"] == "Grace"
    assert cells[grace.linkedin_id]["consent:7"] == "no"
    assert cells[grace.linkedin_id]["question:9"] == "Navy"
    assert cells[grace.linkedin_id]["lead:state"] == "Failed"
    assert cells[grace.linkedin_id]["lead:test_lead"] == "yes"
    html = response.content.decode()
    assert 'id="form-table"' in html and 'data-column="question:3"' in html
    assert "Data &amp; AI, Cloud" in html and "Grace" in html
    assert reverse("admin:leads_lead_change", args=[ada.pk]) in html


def test_a_lead_of_another_form_is_not_in_its_table(admin_client, form, ada, stranger):
    response = admin_client.get(table_url(form))
    assert [row["cells"][0][1] for row in response.context["rows"]] == [ada.linkedin_id]
    assert "stranger@example.com" not in response.content.decode()
    # Even when asked for by the lead list's filters.
    response = admin_client.get(table_url(form, f"?integration__id__exact={stranger.integration_id}"))
    assert [row["cells"] for row in response.context["rows"]] == []


def test_the_table_filters_by_state_date_and_test_lead_and_searches_the_answers(admin_client, form, ada, grace):
    def shown(query):
        response = admin_client.get(table_url(form, query))
        assert response.status_code == 200, query
        return {row["cells"][0][1] for row in response.context["rows"]}

    assert shown("?state__exact=failed") == {grace.linkedin_id}
    assert shown("?test_lead__exact=0") == {ada.linkedin_id}
    assert shown(f"?submitted_at__year={ada.submitted_at.year}") >= {ada.linkedin_id}
    assert shown("?q=Navy") == {grace.linkedin_id}  # an answer, not a column of the lead row
    assert shown("?q=ada%40example.com") == {ada.linkedin_id}
    assert shown("?q=nobody-answers-this") == set()
    html = admin_client.get(table_url(form)).content.decode()
    assert 'id="changelist-filter"' in html and 'id="changelist-search"' in html
    assert "integration__id__exact" not in html  # the URL names the form: no integration filter


def test_non_ascii_answers_are_found(admin_client, form, integration):
    lead = factories.lead(integration, answers=answers("Zoë", "zoe@example.com"))
    response = admin_client.get(table_url(form, "?q=Zo%C3%AB"))
    assert [row["cells"][0][1] for row in response.context["rows"]] == [lead.linkedin_id]


def test_the_table_sorts_and_pages(admin_client, form, ada, grace, monkeypatch):
    from leads.admin.leads import LeadAdmin

    newest_first = admin_client.get(table_url(form)).context["rows"]
    assert [r["cells"][0][1] for r in newest_first] == [ada.linkedin_id, grace.linkedin_id]
    oldest_first = admin_client.get(table_url(form, "?o=2")).context["rows"]  # "Submitted at", ascending
    assert [r["cells"][0][1] for r in oldest_first] == [grace.linkedin_id, ada.linkedin_id]
    monkeypatch.setattr(LeadAdmin, "list_per_page", 1)
    second = admin_client.get(table_url(form, "?p=2"))
    assert [r["cells"][0][1] for r in second.context["rows"]] == [grace.linkedin_id]


def test_a_table_of_a_form_never_read_has_only_the_leads_own_columns(admin_client):
    form = factories.lead_form()
    form.versions.all().delete()
    factories.lead(factories.integration(form=form))
    response = admin_client.get(table_url(form))
    assert [c.kind for c in response.context["columns"]] == ["lead"] * 7
    assert "run discovery" in response.content.decode()


def test_bad_filters_on_the_table_fall_back_to_all_its_leads(admin_client, form, ada):
    response = admin_client.get(table_url(form, "?no_such_field=1"))
    assert response.status_code == 302 and response["Location"] == table_url(form)


def test_the_lead_list_export_has_the_header_and_only_the_rows_of_its_filters(admin_client, ada, grace, stranger):
    response = admin_client.get(reverse("admin:leads_lead_export") + "?state__exact=failed")
    assert response.status_code == 200
    rows = read_csv(response)
    assert rows[0][:4] == ["LinkedIn response ID", "Integration", "LinkedIn form ID", "Form version"]
    assert rows[0][-1] == "Answers"
    by_id = rows_by_id(rows)
    assert set(by_id) == {grace.linkedin_id, stranger.linkedin_id}
    assert by_id[grace.linkedin_id]["E-mail"] == "grace@example.com"
    assert by_id[grace.linkedin_id]["Last error"] == "CRM error 205"
    assert by_id[grace.linkedin_id]["LinkedIn form ID"] == grace.integration.form.linkedin_id
    assert "First name: Grace" in by_id[grace.linkedin_id]["Answers"]
    # The list's search and its integration filter are kept too.
    rows = read_csv(admin_client.get(reverse("admin:leads_lead_export") + "?q=stranger"))
    assert set(rows_by_id(rows)) == {stranger.linkedin_id}
    rows = read_csv(admin_client.get(reverse("admin:leads_lead_export")
                                     + f"?integration__id__exact={ada.integration_id}&state__exact=synced"))
    assert set(rows_by_id(rows)) == {ada.linkedin_id}


def test_the_forms_export_has_a_column_per_question_and_the_tables_filters(admin_client, form, ada, grace, stranger):
    rows = read_csv(admin_client.get(form_export_url(form)))
    assert rows[0] == HEADER
    by_id = rows_by_id(rows)
    assert set(by_id) == {ada.linkedin_id, grace.linkedin_id}
    assert by_id[ada.linkedin_id]["Topics"] == "Data & AI, Cloud"
    assert by_id[ada.linkedin_id]["Submitted at"] == ada.submitted_at.isoformat()
    assert by_id[grace.linkedin_id]["Company (older version)"] == "Navy"
    assert by_id[grace.linkedin_id]["utm_source (hidden field)"] == "mail"
    rows = read_csv(admin_client.get(form_export_url(form, "?state__exact=failed")))
    assert set(rows_by_id(rows)) == {grace.linkedin_id}
    # The table's export link carries its filters and search.
    html = admin_client.get(table_url(form, "?state__exact=failed&q=Grace&p=1")).content.decode()
    assert f'href="{form_export_url(form)}?state__exact=failed&amp;q=Grace"' in html


def test_exports_neutralise_spreadsheet_formulas(admin_client, form, integration):
    lead = factories.lead(integration, email="=HYPERLINK(\"http://evil\")@example.com",
                          answers=answers("=1+2", "+33 1 23", ["@SUM(A1)"], utm="-2+3", consent=True))
    by_id = rows_by_id(read_csv(admin_client.get(form_export_url(form))))
    row = by_id[lead.linkedin_id]
    assert row["First name"] == "'=1+2"
    assert row["Email"] == "'+33 1 23"
    assert row["Topics"] == "'@SUM(A1)"
    assert row["utm_source (hidden field)"] == "'-2+3"
    assert row["E-mail"].startswith("'=HYPERLINK")
    row = rows_by_id(read_csv(admin_client.get(reverse("admin:leads_lead_export"))))[lead.linkedin_id]
    assert row["E-mail"].startswith("'=HYPERLINK")


def test_the_export_action_exports_only_the_selected_leads(admin_client, ada, grace, stranger):
    response = admin_client.post(reverse("admin:leads_lead_changelist"),
                                 {"action": "export_csv", "_selected_action": [ada.pk, stranger.pk]})
    assert set(rows_by_id(read_csv(response))) == {ada.linkedin_id, stranger.linkedin_id}


def test_staff_without_the_export_permission_get_403_and_no_data(staff_client, form, ada, grace):
    for url in (reverse("admin:leads_lead_export"), reverse("admin:leads_lead_export") + "?state__exact=failed",
                form_export_url(form)):
        response = staff_client.get(url)
        assert response.status_code == 403, url
        assert b"grace@example.com" not in response.content and b"Grace" not in response.content
    # They still see the table and the list, without any way to export.
    table = staff_client.get(table_url(form))
    assert table.status_code == 200 and "Grace" in table.content.decode()
    assert 'id="form-table-export-csv"' not in table.content.decode()
    page = staff_client.get(reverse("admin:leads_lead_changelist")).content.decode()
    assert 'value="export_csv"' not in page and 'id="lead-export-csv"' not in page
    response = staff_client.post(reverse("admin:leads_lead_changelist"),
                                 {"action": "export_csv", "_selected_action": [ada.pk, grace.pk]})
    assert not isinstance(response, StreamingHttpResponse) and response.status_code == 302
    assert b"grace@example.com" not in response.content


def test_the_lead_list_links_to_the_forms_table_keeping_its_filters(admin_client, form, integration, ada):
    page = admin_client.get(reverse("admin:leads_lead_changelist")).content.decode()
    assert 'id="lead-form-table"' not in page  # the list is not narrowed to one form
    assert f'href="{reverse("admin:leads_lead_forms")}"' in page
    assert f'href="{reverse("admin:leads_lead_export")}"' in page
    query = f"?integration__id__exact={integration.pk}&state__exact=failed&o=3&p=2"
    page = admin_client.get(reverse("admin:leads_lead_changelist") + query).content.decode()
    assert f'href="{table_url(form)}?state__exact=failed"' in page
    assert (f'href="{reverse("admin:leads_lead_export")}?integration__id__exact={integration.pk}'
            '&amp;state__exact=failed&amp;o=3"') in page


def test_leads_by_form_lists_each_integrated_form_with_its_counts(admin_client, form, ada, grace, stranger):
    never = factories.lead_form(name="Never enabled")
    response = admin_client.get(reverse("admin:leads_lead_forms"))
    assert response.status_code == 200
    counts = {row["form"].pk: row["form"].lead_count for row in response.context["rows"]}
    assert counts == {form.pk: 2, stranger.integration.form_id: 1}
    assert never.pk not in counts
    html = response.content.decode()
    assert table_url(form) in html and form_export_url(form) in html


@pytest.mark.usefixtures("health_cached")
def test_table_and_exports_take_a_bounded_number_of_queries(admin_client, form, integration):
    def queries(url, streamed=False):
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(url)
            assert response.status_code == 200, url
            if streamed:
                b"".join(response.streaming_content)
        return len(ctx.captured_queries)

    def add(n):
        for i in range(n):
            factories.lead(integration, state="failed" if i % 2 else "synced",
                           answers=answers(f"P{i}", f"p{i}@example.com", ["Cloud"], consent=True))

    pages = [(table_url(form), False), (table_url(form, "?state__exact=failed&q=example"), False),
             (form_export_url(form), True), (reverse("admin:leads_lead_export"), True),
             (reverse("admin:leads_lead_export") + "?state__exact=failed", True),
             (reverse("admin:leads_lead_forms"), False)]
    add(2)
    few = [queries(url, streamed) for url, streamed in pages]
    add(12)
    many = [queries(url, streamed) for url, streamed in pages]
    assert many == few
    assert Lead.objects.count() == 14


def test_who_exported_what_is_logged(admin_client, form, ada, caplog):
    with caplog.at_level("INFO", logger="leads.admin.datastore"):
        b"".join(admin_client.get(form_export_url(form, "?state__exact=synced")).streaming_content)
    assert any("exported leads as CSV" in r.getMessage() and "state__exact=synced" in r.getMessage()
               for r in caplog.records)


def test_the_export_log_never_holds_what_was_searched_for(admin_client, form, ada, caplog):
    with caplog.at_level("INFO", logger="leads.admin.datastore"):
        b"".join(admin_client.get(form_export_url(form, f"?q={ada.email}")).streaming_content)
    [record] = [r for r in caplog.records if "exported leads as CSV" in r.getMessage()]
    assert ada.email not in record.getMessage() and "%5Bsearch%5D" in record.getMessage()
