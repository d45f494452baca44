"""The mapping editor in the admin: the Integration page's inline, the FieldMapping change page and
the FieldMapping list filtered to one integration (the Lead reviewers' editor). CRM fields and
transforms are picked from lists, and every editor refuses what would break a push: one CRM field
set by two sources, a field the CRM does not have, an integration left without emailAddress."""

import types

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mappings.engine import TRANSFORM_CHOICES
from mappings.forms import NOT_SYNCED
from mappings.models import FieldMapping
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STANDARD = [("firstName", "First Name"), ("lastName", "Last Name"), ("emailAddress", "Email"),
            ("companyName", "Company Name"), ("leadScore", "Lead Score")]


def catalogue(crm):
    for system_name, label in STANDARD:
        factories.crm_field(crm, system_name=system_name, label=label, is_custom=False,
                            data_type="int" if system_name == "leadScore" else "text")
    factories.crm_field(crm, system_name="Job_Function_1", label="Job Function", max_length=4)
    return crm


@pytest.fixture
def setup():
    """An integration whose CRM has a catalogue, and four mapping rows."""
    integration = factories.integration(crm=catalogue(factories.crm_connection()))
    rows = types.SimpleNamespace(
        first=factories.field_mapping(integration, source_key="1", source_label="First name", crm_field="firstName",
                                      position=0),
        email=factories.field_mapping(integration, source_key="2", source_label="Email", crm_field="emailAddress",
                                      position=1),
        job=factories.field_mapping(integration, source_key="3", source_label="Job function", crm_field="", position=2),
        utm=factories.field_mapping(integration, source_kind="hidden", source_key="utm_source",
                                    source_label="utm_source", crm_field="", position=3),
    )
    return types.SimpleNamespace(integration=integration, rows=rows)


def change_url(integration):
    return reverse("admin:mappings_integration_change", args=[integration.pk])


def integration_post(integration, changes=None):
    """The Integration change form as the browser would post it, with `changes` {row: {column: value}}."""
    changes = {row.pk: values for row, values in (changes or {}).items()}
    rows = list(integration.mappings.all())
    data = {
        "name": integration.name, "state": integration.state, "lead_types": list(integration.lead_types),  # checkboxes
        "sync_every_minutes": integration.sync_every_minutes, "on_linkedin_delete": integration.on_linkedin_delete,
        "mappings-TOTAL_FORMS": len(rows), "mappings-INITIAL_FORMS": len(rows),
        "mappings-MIN_NUM_FORMS": 0, "mappings-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        values = {"crm_field": row.crm_field, "transform": row.transform, "transform_option": row.transform_option,
                  "enabled": row.enabled, **changes.get(row.pk, {})}
        data.update({f"mappings-{i}-id": row.pk, f"mappings-{i}-integration": integration.pk,
                     f"mappings-{i}-crm_field": values["crm_field"], f"mappings-{i}-transform": values["transform"],
                     f"mappings-{i}-transform_option": values["transform_option"]})
        if values["enabled"]:
            data[f"mappings-{i}-enabled"] = "on"
    return data


def inline_errors(response):
    formset = response.context["inline_admin_formsets"][0].formset
    return {form.instance.source_label: form.errors.get("crm_field", []) for form in formset.forms if form.errors}


def stored(setup):
    return dict(setup.integration.mappings.values_list("source_label", "crm_field"))


# --- the Integration page's inline --------------------------------------------------------------


def test_crm_fields_and_transforms_are_picked_from_lists_built_from_the_integrations_catalogue(admin_client, setup):
    factories.crm_field(factories.crm_connection(), system_name="Other_CRM_Field", label="Other CRM")
    response = admin_client.get(change_url(setup.integration))
    html = response.content.decode()

    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    choices = form.fields["crm_field"].choices
    assert choices[0] == ("", NOT_SYNCED)
    groups = dict(choices[1:])
    assert ("firstName", "First Name (firstName)") in groups["Standard fields"]
    assert groups["Custom fields"] == [("Job_Function_1", "Job Function (Job_Function_1)")]
    assert "Other_CRM_Field" not in html
    assert '<optgroup label="Custom fields">' in html
    assert '<option value="firstName" selected>First Name (firstName)</option>' in html
    assert form.fields["transform"].choices == TRANSFORM_CHOICES


def test_sources_are_read_only_and_rows_are_neither_added_nor_deleted_here(admin_client, setup):
    html = admin_client.get(change_url(setup.integration)).content.decode()
    assert "Hidden field" in html and "utm_source" in html and "Job function" in html
    for column in ("source_kind", "source_key", "source_label", "DELETE"):
        assert f'name="mappings-0-{column}"' not in html
    assert "mappings-empty" not in html  # no "Add another" template row


def test_a_valid_mapping_change_is_saved(admin_client, setup):
    rows = setup.rows
    response = admin_client.post(change_url(setup.integration), integration_post(setup.integration, {
        rows.job: {"crm_field": "Job_Function_1", "transform": "upper"},
        rows.utm: {"crm_field": "companyName"},
    }))
    assert response.status_code == 302, inline_errors(response)
    rows.job.refresh_from_db()
    assert (rows.job.crm_field, rows.job.transform) == ("Job_Function_1", "upper")
    assert stored(setup)["utm_source"] == "companyName"


def test_a_crm_field_set_by_two_enabled_sources_is_refused_naming_both(admin_client, setup):
    before = stored(setup)
    response = admin_client.post(change_url(setup.integration),
                                 integration_post(setup.integration, {setup.rows.job: {"crm_field": "firstName"}}))
    assert response.status_code == 200
    errors = inline_errors(response)
    assert errors["Job function"] == [
        "firstName is set both by Question “Job function” and by Question “First name”; a CRM field takes one "
        "source: choose “— not synced —” or untick Enabled on all but one."]
    assert "by Question “Job function”" in errors["First name"][0]
    assert "Some mapping rows conflict" in response.content.decode()
    assert stored(setup) == before


def test_a_second_source_may_keep_the_crm_field_while_it_is_disabled(admin_client, setup):
    response = admin_client.post(change_url(setup.integration), integration_post(
        setup.integration, {setup.rows.job: {"crm_field": "firstName", "enabled": False}}))
    assert response.status_code == 302
    assert stored(setup)["Job function"] == "firstName"


def test_a_crm_field_not_in_the_catalogue_is_refused(admin_client, setup):
    response = admin_client.post(change_url(setup.integration),
                                 integration_post(setup.integration, {setup.rows.job: {"crm_field": "noSuchField"}}))
    assert response.status_code == 200
    assert "noSuchField is not in the CRM's field catalogue" in inline_errors(response)["Job function"][0]
    assert stored(setup)["Job function"] == ""


def test_a_stored_crm_field_the_catalogue_lost_shows_as_itself_not_as_another_field(admin_client, setup):
    FieldMapping.objects.filter(pk=setup.rows.utm.pk).update(crm_field="deletedInCrm")
    html = admin_client.get(change_url(setup.integration)).content.decode()
    assert '<option value="deletedInCrm" selected>deletedInCrm (not in the CRM&#x27;s field catalogue)</option>' in html
    setup.rows.utm.refresh_from_db()
    response = admin_client.post(change_url(setup.integration), integration_post(setup.integration))
    assert "deletedInCrm is not in the CRM's field catalogue" in inline_errors(response)["utm_source"][0]


def test_any_crm_field_is_accepted_while_the_catalogue_is_not_loaded(admin_client):
    integration = factories.integration()  # its CRM connection has no field catalogue yet
    email = factories.field_mapping(integration, source_key="2", source_label="Email", crm_field="emailAddress")
    other = factories.field_mapping(integration, source_key="3", source_label="Job", crm_field="")
    html = admin_client.get(change_url(integration)).content.decode()
    assert '<input type="text" name="mappings-1-crm_field"' in html
    response = admin_client.post(change_url(integration),
                                 integration_post(integration, {other: {"crm_field": "anyName"}}))
    assert response.status_code == 302
    other.refresh_from_db()
    email.refresh_from_db()
    assert other.crm_field == "anyName" and email.crm_field == "emailAddress"


@pytest.mark.parametrize("change", [{"crm_field": ""}, {"enabled": False}, {"crm_field": "companyName"}])
def test_email_address_must_stay_mapped_from_an_enabled_source(admin_client, setup, change):
    response = admin_client.post(change_url(setup.integration),
                                 integration_post(setup.integration, {setup.rows.email: change}))
    assert response.status_code == 200
    assert inline_errors(response)["Email"] == [
        "emailAddress must stay mapped from an enabled source: it is the only field the CRM requires, and without "
        "it every lead fails. Map another source to it first."]
    setup.rows.email.refresh_from_db()
    assert (setup.rows.email.crm_field, setup.rows.email.enabled) == ("emailAddress", True)


def test_email_address_may_move_to_another_source(admin_client, setup):
    rows = setup.rows
    response = admin_client.post(change_url(setup.integration), integration_post(setup.integration, {
        rows.email: {"crm_field": ""}, rows.job: {"crm_field": "emailAddress"}}))
    assert response.status_code == 302
    assert stored(setup)["Job function"] == "emailAddress" and stored(setup)["Email"] == ""


def integration_with_rows(n):
    integration = factories.integration(crm=catalogue(factories.crm_connection()))
    factories.field_mapping(integration, source_key="email", source_label="Email", crm_field="emailAddress")
    for i in range(n - 1):
        factories.field_mapping(integration, source_kind="hidden", source_key=f"h{i}", source_label=f"Hidden {i}",
                                crm_field="", transform="trim")
    factories.lead(integration, answers={"answers": {"email": {"value": "a@example.com"}}})
    return integration


@pytest.mark.usefixtures("health_cached")
def test_the_integration_page_costs_the_same_queries_for_30_mapping_rows_as_for_5(admin_client):
    counts = {}
    for n in (5, 30):
        integration = integration_with_rows(n)
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(change_url(integration))
        assert response.status_code == 200
        assert response.content.decode().count('name="mappings-') >= 3 * n
        counts[n] = len(queries.captured_queries)
    assert counts[5] == counts[30], counts


def test_a_reviewer_sees_the_integration_page_but_cannot_save_it(reviewer, setup):
    assert reviewer.get(change_url(setup.integration)).status_code == 200
    response = reviewer.post(change_url(setup.integration),
                             integration_post(setup.integration, {setup.rows.job: {"crm_field": "companyName"}}))
    assert response.status_code == 403
    assert stored(setup)["Job function"] == ""


# --- the preview --------------------------------------------------------------------------------


def test_the_preview_shows_what_the_crm_would_get_from_the_newest_lead(admin_client, setup):
    rows = setup.rows
    FieldMapping.objects.filter(pk=rows.job.pk).update(crm_field="Job_Function_1")
    FieldMapping.objects.filter(pk=rows.utm.pk).update(crm_field="leadScore")
    answers = {
        "answers": {"1": {"text": "First name", "value": "Newest-Ana"}, "2": {"value": "ana@example.com"},
                    "3": {"value": "Engineer"}},
        "hidden_fields": {"utm_source": "linkedin"},
    }
    older = {"answers": {"1": {"value": "Older-Bob"}, "2": {"value": "bob@example.com"}}}
    lead = factories.lead(setup.integration, answers=answers)
    factories.lead(setup.integration, answers=older, submitted_at=lead.submitted_at.replace(year=2020))

    html = admin_client.get(change_url(setup.integration)).content.decode()

    preview = html[html.index('class="ls-preview"'):html.index("</table>", html.index('class="ls-preview"'))]
    assert "Newest-Ana" in preview and "ana@example.com" in preview and "Older-Bob" not in preview
    assert reverse("admin:leads_lead_change", args=[lead.pk]) in preview
    assert "Job Function" in preview and ">Engi<" in preview and "ls-status-truncated" in preview
    assert "truncated from 8 to 4 characters" in preview
    assert "leadScore is a number field" in preview  # kept from the CRM, which would refuse the lead (205)
    assert "SECRET" not in html


def test_what_the_form_and_the_member_typed_is_shown_as_text(admin_client, setup):
    xss = "<script>alert(1)</script>"
    FieldMapping.objects.filter(pk=setup.rows.first.pk).update(source_label=xss)
    factories.lead(setup.integration, answers={"answers": {"1": {"value": xss}, "2": {"value": "a@example.com"}}})
    html = admin_client.get(change_url(setup.integration)).content.decode()
    assert xss not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_the_preview_says_so_when_no_lead_is_stored(admin_client, setup):
    html = admin_client.get(change_url(setup.integration)).content.decode()
    assert "No lead is stored yet" in html


# --- the FieldMapping change page ----------------------------------------------------------------


def fieldmapping_url(row):
    return reverse("admin:mappings_fieldmapping_change", args=[row.pk])


def test_the_change_page_picks_from_the_catalogue_and_keeps_the_source_read_only(reviewer, setup):
    response = reviewer.get(fieldmapping_url(setup.rows.job))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.fields) == {"crm_field", "transform", "transform_option", "enabled"}
    assert ("Job_Function_1", "Job Function (Job_Function_1)") in dict(form.fields["crm_field"].choices[1:])[
        "Custom fields"]
    assert "Job function" in response.content.decode()


@pytest.mark.parametrize("row, value, message", [
    ("job", "firstName", "firstName is set both by Question “Job function” and by Question “First name”"),
    ("job", "noSuchField", "noSuchField is not in the CRM's field catalogue"),
    ("email", "", "emailAddress must stay mapped from an enabled source"),
])
def test_the_change_page_refuses_what_would_break_a_push(reviewer, setup, row, value, message):
    row = getattr(setup.rows, row)
    before = stored(setup)
    response = reviewer.post(fieldmapping_url(row), {"crm_field": value, "transform": "none", "enabled": "on"})
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["crm_field"])
    assert stored(setup) == before


def test_a_reviewer_fixes_a_row_on_its_change_page(reviewer, setup):
    response = reviewer.post(fieldmapping_url(setup.rows.first),
                             {"crm_field": "", "transform": "none", "enabled": "on"})
    assert response.status_code == 302
    assert stored(setup)["First name"] == ""


def test_mapping_rows_are_not_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:mappings_fieldmapping_add")).status_code == 403


# --- the FieldMapping list, filtered to one integration ------------------------------------------


def list_url(integration):
    return reverse("admin:mappings_fieldmapping_changelist") + f"?integration__id__exact={integration.pk}"


def list_post(rows, changes):
    data = {"form-TOTAL_FORMS": len(rows), "form-INITIAL_FORMS": len(rows), "form-MIN_NUM_FORMS": 0,
            "form-MAX_NUM_FORMS": 1000, "_save": "Save"}
    for i, row in enumerate(rows):
        values = {"crm_field": row.crm_field, "transform": row.transform, "enabled": row.enabled,
                  **changes.get(row, {})}
        data.update({f"form-{i}-id": row.pk, f"form-{i}-crm_field": values["crm_field"],
                     f"form-{i}-transform": values["transform"]})
        if values["enabled"]:
            data[f"form-{i}-enabled"] = "on"
    return data


def test_the_list_filtered_to_an_integration_is_its_mapping_editor(reviewer, setup):
    html = reviewer.get(list_url(setup.integration)).content.decode()
    assert f"Mapping of {setup.integration}" in html
    assert '<select name="form-0-crm_field"' in html and '<optgroup label="Standard fields">' in html
    rows = setup.rows
    response = reviewer.post(list_url(setup.integration), list_post([rows.first, rows.job], {
        rows.first: {"crm_field": ""}, rows.job: {"crm_field": "firstName", "transform": "title"}}))
    assert response.status_code == 302
    assert stored(setup)["Job function"] == "firstName" and stored(setup)["First name"] == ""


def test_the_list_checks_each_row_against_the_rest_of_its_integration(reviewer, setup):
    before = stored(setup)
    # Only the job row is posted: its conflict is with a stored row that is not on the form.
    response = reviewer.post(list_url(setup.integration), list_post([setup.rows.job], {
        setup.rows.job: {"crm_field": "emailAddress"}}))
    assert response.status_code == 200
    errors = response.context["cl"].formset.forms[0].errors["crm_field"]
    assert "emailAddress is set both by Question “Job function” and by Question “Email”" in errors[0]
    assert stored(setup) == before


@pytest.mark.usefixtures("health_cached")
def test_the_list_costs_the_same_queries_for_30_mapping_rows_as_for_5(reviewer):
    counts = {}
    for n in (5, 30):
        integration = integration_with_rows(n)
        with CaptureQueriesContext(connection) as queries:
            assert reviewer.get(list_url(integration)).status_code == 200
        counts[n] = len(queries.captured_queries)
    assert counts[5] == counts[30], counts
