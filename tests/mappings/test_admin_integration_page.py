"""The integration page as an operator works it: its settings (lead types, interval, state) with the
beat entry following, pause and resume, the "mapping needs review" flag, the mapping editor's
refusals of transforms that cannot work, the preview of unsaved edits, and the mapping's export and
import."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from leads.integrations import integration_schedule
from mappings.models import FieldMapping, Integration
from mappings.services import mapping_export
from tests import factories
from tests.mappings.test_admin_mapping import catalogue, change_url, inline_errors, integration_post

pytestmark = pytest.mark.django_db

REVIEW = {
    "version": 3, "since": "2026-01-31T09:00:00+00:00",
    "added": [{"source_kind": "question", "source_key": "9", "source_label": "Dietary requirements"}],
    "removed": [{"source_kind": "hidden", "source_key": "utm_medium", "source_label": "utm_medium"}],
}


@pytest.fixture
def integration():
    """A scheduled integration whose CRM has a catalogue, with four mapping rows (one maps emailAddress)."""
    integration = factories.integration(crm=catalogue(factories.crm_connection()), sync_every_minutes=15)
    for position, (kind, key, label, crm) in enumerate([
            ("question", "1", "First name", "firstName"), ("question", "2", "Email", "emailAddress"),
            ("question", "3", "Job function", ""), ("hidden", "utm_source", "utm_source", "")]):
        factories.field_mapping(integration, source_kind=kind, source_key=key, source_label=label, crm_field=crm,
                                position=position)
    integration_schedule(integration=integration)
    return integration


def row(integration, label):
    return integration.mappings.get(source_label=label)


def task_of(integration):
    return PeriodicTask.objects.select_related("interval").get(pk=Integration.objects.get(pk=integration.pk)
                                                               .periodic_task_id)


def snapshot(integration):
    return list(integration.mappings.order_by("pk").values())


def url(name, integration):
    return reverse(f"admin:mappings_integration_{name}", args=[integration.pk])


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# --- the integration's settings ---------------------------------------------------------------------------


def test_lead_types_are_checkboxes_of_the_lead_types_the_form_receives(admin_client, integration):
    html = admin_client.get(change_url(integration)).content.decode()
    assert '<input type="checkbox" name="lead_types" value="EVENT"' in html
    assert 'value="SPONSORED"' not in html  # the form receives event leads only

    page_form = factories.lead_form(lead_types=[])  # an organization's form: every organic lead type
    other = factories.integration(form=page_form)
    form = admin_client.get(change_url(other)).context["adminform"].form
    assert form.fields["lead_types"].choices == [("EVENT", "Event"), ("COMPANY", "Company page"),
                                                 ("ORGANIZATION_PRODUCT", "Product page")]


@pytest.mark.parametrize("ticked", [[], ["EVENT"]])
def test_the_lead_types_ticked_are_saved_and_none_ticked_means_all_the_form_receives(admin_client, integration, ticked):
    data = {**integration_post(integration), "lead_types": ticked}
    assert admin_client.post(change_url(integration), data).status_code == 302
    assert Integration.objects.get(pk=integration.pk).lead_types == ticked


def test_a_lead_type_the_form_does_not_receive_is_refused(admin_client, integration):
    response = admin_client.post(change_url(integration), {**integration_post(integration), "lead_types": ["SPONSORED"]})
    assert response.status_code == 200 and "lead_types" in response.context["adminform"].form.errors


def test_the_reaction_to_a_linkedin_deletion_is_shown_with_its_help_and_saved(admin_client, integration):
    html = admin_client.get(change_url(integration)).content.decode()
    assert '<input type="radio" name="on_linkedin_delete" value="local"' in html and "checked" in html
    assert "LeadSync always erases its own copy" in html and "LEADSYNC_DELETE_CRM_LEADS" in html

    response = admin_client.post(change_url(integration), {**integration_post(integration), "on_linkedin_delete": "crm"})

    assert response.status_code == 302
    assert Integration.objects.get(pk=integration.pk).on_linkedin_delete == "crm"
    refused = admin_client.post(change_url(integration), {**integration_post(integration), "on_linkedin_delete": "x"})
    assert refused.status_code == 200 and "on_linkedin_delete" in refused.context["adminform"].form.errors


@pytest.mark.parametrize("minutes", [0, 10081, -5])
def test_an_interval_outside_a_minute_to_a_week_is_refused_and_changes_nothing(admin_client, integration, minutes):
    response = admin_client.post(change_url(integration), {**integration_post(integration),
                                                           "sync_every_minutes": minutes})
    assert response.status_code == 200 and "sync_every_minutes" in response.context["adminform"].form.errors
    assert Integration.objects.get(pk=integration.pk).sync_every_minutes == 15 and task_of(integration).interval.every == 15


def test_an_edited_interval_reaches_the_beat_entry(admin_client, integration):
    response = admin_client.post(change_url(integration), {**integration_post(integration), "sync_every_minutes": 10080})
    assert response.status_code == 302
    task = task_of(integration)
    assert (task.interval.every, task.interval.period, task.enabled) == (10080, "minutes", True)


def test_the_state_is_active_or_paused_and_the_beat_entry_follows(admin_client, integration):
    form = admin_client.get(change_url(integration)).context["adminform"].form
    assert [value for value, _ in form.fields["state"].choices] == ["active", "paused"]

    refused = admin_client.post(change_url(integration), {**integration_post(integration), "state": "torn_down"})
    assert refused.status_code == 200 and "state" in refused.context["adminform"].form.errors

    assert admin_client.post(change_url(integration), {**integration_post(integration), "state": "paused"}).status_code == 302
    assert Integration.objects.get(pk=integration.pk).state == "paused" and not task_of(integration).enabled
    integration.refresh_from_db()
    assert admin_client.post(change_url(integration), {**integration_post(integration), "state": "active"}).status_code == 302
    assert task_of(integration).enabled


def test_a_torn_down_integrations_state_is_read_only_on_its_page(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(state="torn_down", periodic_task=None)
    integration.refresh_from_db()
    response = admin_client.get(change_url(integration))
    assert "state" not in response.context["adminform"].form.fields
    assert 'id="pause-integration"' not in response.content.decode()
    response = admin_client.post(change_url(integration), {**integration_post(integration), "state": "active",
                                                           "name": "Renamed"})
    assert response.status_code == 302
    stored = Integration.objects.get(pk=integration.pk)
    assert (stored.state, stored.name, stored.periodic_task_id) == ("torn_down", "Renamed", None)


def test_the_form_and_the_crm_connection_are_shown_not_edited(admin_client, integration):
    other = factories.crm_connection()
    form = admin_client.get(change_url(integration)).context["adminform"].form
    assert "form" not in form.fields and "crm_connection" not in form.fields
    admin_client.post(change_url(integration), {**integration_post(integration), "crm_connection": other.pk})
    assert Integration.objects.get(pk=integration.pk).crm_connection_id == integration.crm_connection_id


def test_an_integration_is_never_added_half_made_from_the_raw_add_page(admin_client, integration):
    assert admin_client.get(reverse("admin:mappings_integration_add")).status_code == 403
    html = admin_client.get(reverse("admin:mappings_integration_changelist")).content.decode()
    assert reverse("admin:mappings_integration_add") not in html


def test_saving_the_page_leaves_what_a_sync_writes_alone(admin_client, integration):
    page = integration_post(integration)
    Integration.objects.filter(pk=integration.pk).update(lock_token="held-by-a-running-sync")
    assert admin_client.post(change_url(integration), {**page, "sync_every_minutes": 30}).status_code == 302
    assert Integration.objects.get(pk=integration.pk).lock_token == "held-by-a-running-sync"


# --- pause and resume -------------------------------------------------------------------------------------


def test_pause_and_resume_actions_report_counts_and_refusals(admin_client, integration):
    paused = factories.integration(state="paused")
    changelist = reverse("admin:mappings_integration_changelist")
    response = admin_client.post(changelist, {"action": "pause", "_selected_action": [integration.pk, paused.pk]},
                                 follow=True)
    said = messages_of(response)
    assert "Paused 1 integration(s): no scheduled pull runs until they are resumed." in said
    assert f"{paused} is already paused." in said
    assert Integration.objects.get(pk=integration.pk).state == "paused" and not task_of(integration).enabled

    response = admin_client.post(changelist, {"action": "resume", "_selected_action": [integration.pk, paused.pk]},
                                 follow=True)
    assert "Resumed 2 integration(s): the next scheduled pull starts from the watermark." in messages_of(response)
    assert task_of(integration).enabled


def test_the_pause_and_resume_buttons_change_the_state_and_the_beat_entry(admin_client, integration):
    html = admin_client.get(change_url(integration)).content.decode()
    assert 'id="pause-integration"' in html and 'id="resume-integration"' not in html
    assert admin_client.get(url("pause", integration)).status_code == 405  # a change: POST only

    response = admin_client.post(url("pause", integration), follow=True)
    assert f"Paused {integration}: no scheduled pull runs until it is resumed." in messages_of(response)
    assert Integration.objects.get(pk=integration.pk).state == "paused" and not task_of(integration).enabled
    html = response.content.decode()
    assert 'id="resume-integration"' in html and 'id="pause-integration"' not in html

    again = admin_client.post(url("pause", integration), follow=True)
    assert f"{integration} is already paused." in messages_of(again)

    admin_client.post(url("resume", integration))
    assert Integration.objects.get(pk=integration.pk).state == "active" and task_of(integration).enabled


def test_reviewers_may_not_pause_resume_or_see_those_buttons(reviewer, integration):
    html = reviewer.get(change_url(integration)).content.decode()
    assert 'id="pause-integration"' not in html and 'id="preview-edits"' not in html
    assert reviewer.post(url("pause", integration)).status_code == 403
    assert Integration.objects.get(pk=integration.pk).state == "active"


# --- the mapping review flag ------------------------------------------------------------------------------


def test_the_review_box_lists_the_sources_added_and_removed_with_the_version(admin_client, integration):
    assert 'id="mapping-review"' not in admin_client.get(change_url(integration)).content.decode()
    Integration.objects.filter(pk=integration.pk).update(mapping_review=REVIEW)
    html = admin_client.get(change_url(integration)).content.decode()
    box = html[html.index('id="mapping-review"'):html.index('id="mappings-group"')]
    assert "version 3 of the form" in box
    assert "Question “Dietary requirements”" in box and "Hidden field “utm_medium”" in box
    assert 'id="mark-mapping-reviewed"' in html


def test_the_list_shows_and_filters_the_mappings_that_need_review(admin_client, integration):
    flagged = factories.integration(mapping_review=REVIEW, name="Flagged one")
    changelist = reverse("admin:mappings_integration_changelist")
    html = admin_client.get(changelist).content.decode()
    assert "mapping needs review" in html
    assert list(admin_client.get(changelist + "?mapping_review=yes").context["cl"].result_list) == [flagged]
    assert list(admin_client.get(changelist + "?mapping_review=no").context["cl"].result_list) == [integration]


def test_the_button_and_the_action_mark_the_mapping_reviewed(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(mapping_review=REVIEW)
    response = admin_client.post(url("mapping_reviewed", integration), follow=True)
    assert f"The mapping of {integration} is marked reviewed." in messages_of(response)
    assert Integration.objects.get(pk=integration.pk).mapping_review == {}

    other = factories.integration(mapping_review=REVIEW)
    response = admin_client.post(reverse("admin:mappings_integration_changelist"),
                                 {"action": "mark_mapping_reviewed", "_selected_action": [integration.pk, other.pk]},
                                 follow=True)
    assert "Marked the mapping of 1 integration(s) reviewed." in messages_of(response)
    assert not Integration.objects.get(pk=other.pk).mapping_needs_review


def test_saving_a_change_to_the_mapping_clears_the_flag_and_other_edits_keep_it(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(mapping_review=REVIEW)
    integration.refresh_from_db()
    assert admin_client.post(change_url(integration), {**integration_post(integration), "sync_every_minutes": 20}
                             ).status_code == 302
    assert Integration.objects.get(pk=integration.pk).mapping_review == REVIEW

    job = row(integration, "Job function")
    assert admin_client.post(change_url(integration), integration_post(integration, {job: {"crm_field": "companyName"}})
                             ).status_code == 302
    assert Integration.objects.get(pk=integration.pk).mapping_review == {}


# --- the editor's refusals --------------------------------------------------------------------------------


def test_a_transform_that_does_not_fit_its_crm_field_is_refused_naming_the_row(admin_client, integration):
    before = snapshot(integration)
    utm = row(integration, "utm_source")
    response = admin_client.post(change_url(integration), integration_post(
        integration, {utm: {"crm_field": "leadScore", "transform": "yes_no"}}))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    [errors] = [f.errors["transform"] for f in formset.forms if f.instance.pk == utm.pk]
    assert errors == ["Hidden field “utm_source”: “Yes / No” does not fit leadScore, a number field: pick another "
                      "transform or another CRM field."]
    assert snapshot(integration) == before


@pytest.mark.parametrize("transform, option, says", [
    ("join", "", "Question “Job function”: “Options joined with a separator you type” needs a separator"),
    ("constant", "", "Question “Job function”: “A constant you type (whatever the lead says)” needs the value to send"),
    ("phone_e164", "Atlantis", "Question “Job function”: 'Atlantis' is not a region phone numbers are known for"),
    ("date_pattern", "%d/%m/%Q", "Question “Job function”: %Q in '%d/%m/%Q' is not a strftime directive"),
    ("upper", "leftover", "Question “Job function”: “UPPER CASE” takes no option"),
])
def test_an_option_missing_or_malformed_is_refused_on_the_option_naming_the_row(admin_client, integration, transform,
                                                                                option, says):
    before = snapshot(integration)
    job = row(integration, "Job function")
    response = admin_client.post(change_url(integration), integration_post(
        integration, {job: {"crm_field": "Job_Function_1", "transform": transform, "transform_option": option}}))
    assert response.status_code == 200
    [errors] = [f.errors["transform_option"] for f in response.context["inline_admin_formsets"][0].formset.forms
                if f.instance.pk == job.pk]
    assert says in errors[0]
    assert snapshot(integration) == before


def test_an_option_is_saved_as_typed_spaces_included(admin_client, integration):
    job = row(integration, "Job function")
    response = admin_client.post(change_url(integration), integration_post(
        integration, {job: {"crm_field": "Job_Function_1", "transform": "join", "transform_option": " | "}}))
    assert response.status_code == 302, inline_errors(response)
    job.refresh_from_db()
    assert (job.transform, job.transform_option) == ("join", " | ")


def test_a_mapping_without_email_address_is_refused_even_when_no_row_had_it(admin_client):
    integration = factories.integration(crm=catalogue(factories.crm_connection()))
    job = factories.field_mapping(integration, source_key="3", source_label="Job function", crm_field="")
    response = admin_client.post(change_url(integration), integration_post(integration, {job: {"crm_field": "firstName"}}))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == [
        "emailAddress must be mapped from an enabled source: it is the only field the CRM requires, and without it "
        "every lead fails. Map the source that holds the e-mail address to it."]
    assert FieldMapping.objects.get(pk=job.pk).crm_field == ""

    response = admin_client.post(change_url(integration), integration_post(integration, {job: {"crm_field": "emailAddress"}}))
    assert response.status_code == 302


def test_the_reviewers_list_editor_refuses_a_mapping_left_without_email_address_naming_it(reviewer):
    integration = factories.integration(crm=catalogue(factories.crm_connection()), name="No e-mail yet")
    job = factories.field_mapping(integration, source_key="3", source_label="Job function", crm_field="")
    list_url = reverse("admin:mappings_fieldmapping_changelist") + f"?integration__id__exact={integration.pk}"
    data = {"form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
            "_save": "Save", "form-0-id": job.pk, "form-0-crm_field": "firstName", "form-0-transform": "none",
            "form-0-transform_option": "", "form-0-enabled": "on"}
    response = reviewer.post(list_url, data)
    assert response.status_code == 200
    assert "No e-mail yet: emailAddress must be mapped from an enabled source" in response.content.decode()
    assert FieldMapping.objects.get(pk=job.pk).crm_field == ""


def test_the_reviewers_list_editor_takes_and_checks_the_option_too(reviewer, integration):
    job = row(integration, "Job function")
    list_url = reverse("admin:mappings_fieldmapping_changelist") + f"?integration__id__exact={integration.pk}"
    data = {"form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
            "_save": "Save", "form-0-id": job.pk, "form-0-crm_field": "Job_Function_1", "form-0-transform": "constant",
            "form-0-transform_option": "", "form-0-enabled": "on"}
    response = reviewer.post(list_url, data)
    assert response.status_code == 200
    assert "needs the value to send" in response.context["cl"].formset.forms[0].errors["transform_option"][0]
    response = reviewer.post(list_url, {**data, "form-0-transform_option": "Eng"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.transform, job.transform_option) == ("constant", "Eng")


# --- the preview of unsaved edits -------------------------------------------------------------------------


def preview_post(integration, changes=None, **fields):
    return {**integration_post(integration, changes), **fields, "_preview": "Preview these edits"}


def preview_box(response):
    html = response.content.decode()
    assert 'id="mapping-preview"' in html, "no preview on the page"
    box = html[html.index('id="mapping-preview"'):]
    return box[:box.index('<div class="submit-row')]


def test_the_preview_shows_the_edits_as_typed_and_saves_nothing(admin_client, integration):
    factories.lead(integration, answers={"answers": {"1": {"value": "Ana"}, "2": {"value": "ana@example.com"}},
                                         "hidden_fields": {"utm_source": "linkedin"}})
    utm = row(integration, "utm_source")
    before, task, logged = snapshot(integration), task_of(integration), LogEntry.objects.count()

    response = admin_client.post(change_url(integration), preview_post(
        integration, {utm: {"crm_field": "companyName", "transform": "constant", "transform_option": "ACME-CONST"}},
        sync_every_minutes=45, name="Renamed on the page"))

    assert response.status_code == 200
    box = preview_box(response)
    assert "ACME-CONST" in box and "Company Name" in box and "ana@example.com" in box
    assert "as edited on this page" in box
    html = response.content.decode()
    assert 'value="ACME-CONST"' in html and 'value="45"' in html  # the page keeps the edits
    assert 'class="errornote"' not in html
    assert snapshot(integration) == before
    stored = Integration.objects.get(pk=integration.pk)
    assert (stored.sync_every_minutes, stored.name) == (15, integration.name)
    assert task_of(integration).interval_id == task.interval_id and LogEntry.objects.count() == logged


def test_the_preview_of_edits_with_errors_shows_the_errors_instead(admin_client, integration):
    factories.lead(integration, answers={"answers": {"2": {"value": "ana@example.com"}}})
    job = row(integration, "Job function")
    before = snapshot(integration)
    response = admin_client.post(change_url(integration), preview_post(integration, {job: {"crm_field": "firstName"}}))
    assert response.status_code == 200
    assert "firstName is set both by" in inline_errors(response)["Job function"][0]
    box = preview_box(response)
    assert "The edits have errors" in box and "ana@example.com" not in box
    assert snapshot(integration) == before


def test_the_preview_without_a_stored_lead_says_so(admin_client, integration):
    response = admin_client.post(change_url(integration), preview_post(integration))
    assert "No lead is stored yet" in preview_box(response)


def test_the_page_offers_the_preview_button(admin_client, integration):
    html = admin_client.get(change_url(integration)).content.decode()
    assert '<input type="submit" name="_preview" id="preview-edits"' in html
    assert 'name="mappings-0-transform_option"' in html


# --- export and import ------------------------------------------------------------------------------------


def test_export_downloads_the_mapping_document(admin_client, integration):
    response = admin_client.get(url("export_mapping", integration))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="mapping-{integration.form.linkedin_id}.json"'
    document = json.loads(response.content)
    expected = mapping_export(integration=integration)
    assert {**document, "exported_at": None} == {**expected, "exported_at": None}
    assert "SECRET" not in response.content.decode()


def upload(document):
    return SimpleUploadedFile("mapping.json", json.dumps(document).encode(), content_type="application/json")


def test_import_changes_the_mapping_from_an_uploaded_file(admin_client, integration):
    html = admin_client.get(change_url(integration)).content.decode()
    assert 'id="export-mapping"' in html and 'id="import-mapping"' in html
    assert admin_client.get(url("import_mapping", integration)).status_code == 200
    document = mapping_export(integration=integration)
    [job] = [r for r in document["rows"] if r["source_label"] == "Job function"]
    job.update(crm_field="Job_Function_1", transform="constant", transform_option="Eng")

    response = admin_client.post(url("import_mapping", integration), {"mapping_file": upload(document)}, follow=True)

    assert response.redirect_chain[-1][0] == change_url(integration)
    assert any("1 rows changed" in m for m in messages_of(response))
    stored = row(integration, "Job function")
    assert (stored.crm_field, stored.transform, stored.transform_option) == ("Job_Function_1", "constant", "Eng")


def test_a_refused_import_says_why_on_the_page_and_changes_nothing(admin_client, integration):
    before = snapshot(integration)
    document = mapping_export(integration=integration)
    [email] = [r for r in document["rows"] if r["crm_field"] == "emailAddress"]
    email["crm_field"] = ""
    response = admin_client.post(url("import_mapping", integration), {"mapping_file": upload(document)})
    assert response.status_code == 200
    assert "emailAddress must stay mapped from an enabled source" in response.content.decode()
    assert 'id="import-mapping-errors"' in response.content.decode()
    assert snapshot(integration) == before

    not_json = SimpleUploadedFile("mapping.json", b"{not json", content_type="application/json")
    response = admin_client.post(url("import_mapping", integration), {"mapping_file": not_json})
    assert "This file is not JSON" in response.content.decode() and snapshot(integration) == before


def test_import_needs_the_change_mapping_permission_and_export_the_view_one(client, django_user_model, integration):
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_integration"))
    client.force_login(user)
    assert client.get(url("export_mapping", integration)).status_code == 200
    assert 'id="import-mapping"' not in client.get(change_url(integration)).content.decode()
    assert client.get(url("import_mapping", integration)).status_code == 403
    assert client.post(url("import_mapping", integration),
                       {"mapping_file": upload(mapping_export(integration=integration))}).status_code == 403
    assert client.post(url("mapping_reviewed", integration)).status_code == 403


def test_reviewers_may_import_a_mapping_they_may_edit_anyway(reviewer, integration):
    assert reviewer.get(url("import_mapping", integration)).status_code == 200


def test_before_any_lead_is_stored_the_preview_uses_a_sample_lead_of_the_form(admin_client, integration):
    response = admin_client.post(change_url(integration), preview_post(integration))
    box = preview_box(response)
    assert "sample lead" in box and "ada.lovelace@example.com" in box, box[:500]
    assert not integration.leads.exists(), "the sample is never saved"
