"""The integrations' audit trail: every enable, settings and schedule edit, pause, resume, mapping
edit, import and review, teardown, recreate and sync started by hand, from the admin or from the CLI,
writes exactly one IntegrationEvent saying who (the admin user, or "cli") and from where; a mapping
change lists its rows with their old and new values; refusals write nothing; the integration's page
shows the trail in a fixed number of queries; only the Lead sync admins (and superusers) see it, and
nobody edits it; no secret is ever in it."""

import json

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connectors.models import CrmConnection
from leads.integrations import integration_schedule, integration_teardown
from mappings.audit import CLI, record
from mappings.models import Integration, IntegrationEvent
from mappings.services import integrations_review_form_version, mapping_export
from tests import factories
from tests.leads.test_cli_pause_resume_and_mapping import cli
from tests.mappings.test_admin_mapping import catalogue, change_url, integration_post, list_post, list_url

pytestmark = pytest.mark.django_db

Kind, Via = IntegrationEvent.Kind, IntegrationEvent.Via


@pytest.fixture
def integration():
    """A scheduled integration whose CRM has a catalogue, with four rows (one maps emailAddress)."""
    integration = factories.integration(crm=catalogue(factories.crm_connection()), sync_every_minutes=15)
    for position, (kind, key, label, crm) in enumerate([
            ("question", "1", "First name", "firstName"), ("question", "2", "Email", "emailAddress"),
            ("question", "3", "Job function", ""), ("hidden", "utm_source", "utm_source", "")]):
        factories.field_mapping(integration, source_kind=kind, source_key=key, source_label=label, crm_field=crm,
                                position=position)
    integration_schedule(integration=integration)
    return integration


@pytest.fixture
def sync_admin(django_user_model):
    user = django_user_model.objects.create_user("ada", password="pw-ada-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Lead sync admins"))
    client = Client()
    client.force_login(user)
    return client


def the_event(integration, **expected) -> IntegrationEvent:
    """The one event of the integration, checked against `expected`."""
    events = list(IntegrationEvent.objects.filter(integration_id=integration.pk))
    assert len(events) == 1, [(e.kind, e.summary) for e in events]
    event = events[0]
    for name, value in expected.items():
        assert getattr(event, name) == value, (name, getattr(event, name), event.summary)
    return event


def admin_url(name, integration):
    return reverse(f"admin:mappings_integration_{name}", args=[integration.pk])


def action(client, name, integration):
    return client.post(reverse("admin:mappings_integration_changelist"),
                       {"action": name, "_selected_action": [integration.pk]})


def row(integration, label):
    return integration.mappings.get(source_label=label)


def write(tmp_path, document):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


# --- from the admin -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client_name, actor", [("admin_client", "admin"), ("sync_admin", "ada")])
def test_pause_and_resume_buttons_each_write_one_event_by_the_admin_user(request, integration, client_name, actor):
    client = request.getfixturevalue(client_name)
    assert client.post(admin_url("pause", integration)).status_code == 302
    the_event(integration, kind=Kind.PAUSED, actor=actor, via=Via.ADMIN)
    IntegrationEvent.objects.all().delete()
    assert client.post(admin_url("resume", integration)).status_code == 302
    the_event(integration, kind=Kind.RESUMED, actor=actor, via=Via.ADMIN)


def test_a_refused_pause_writes_nothing(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(state="paused")
    admin_client.post(admin_url("pause", integration))
    assert not IntegrationEvent.objects.exists()


@pytest.mark.parametrize("name, kind", [("pause", Kind.PAUSED), ("tear_down", Kind.TORN_DOWN),
                                        ("tear_down_and_purge", Kind.TORN_DOWN), ("sync_now", Kind.SYNC_STARTED),
                                        ("retry_failed_leads", Kind.SYNC_STARTED)])
def test_each_list_action_writes_one_event(admin_client, integration, name, kind):
    assert action(admin_client, name, integration).status_code == 302
    event = the_event(integration, kind=kind, actor="admin", via=Via.ADMIN)
    if name == "tear_down_and_purge":
        assert event.detail["purge"] is True and event.detail["purged"] == {"leads": 0, "runs": 0}
    if kind == Kind.SYNC_STARTED:
        assert event.detail["trigger"] == {"sync_now": "manual", "retry_failed_leads": "retry"}[name]


def test_resume_and_recreate_actions_each_write_one_event(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(state="paused")
    action(admin_client, "resume", integration)
    the_event(integration, kind=Kind.RESUMED, actor="admin")
    integration_teardown(integration=integration, by=None)
    IntegrationEvent.objects.all().delete()
    action(admin_client, "recreate", integration)
    the_event(integration, kind=Kind.RECREATED, actor="admin", via=Via.ADMIN)


def test_a_backfill_started_in_the_admin_is_recorded_with_its_days(admin_client, integration):
    assert admin_client.post(admin_url("backfill", integration), {"days": "30"}).status_code == 302
    event = the_event(integration, kind=Kind.SYNC_STARTED, actor="admin", via=Via.ADMIN)
    assert event.detail["trigger"] == "backfill" and event.detail["days"] == 30


def test_enabling_a_form_in_the_admin_writes_one_event(admin_client):
    crm = catalogue(factories.crm_connection(status=CrmConnection.Status.ACTIVE))
    form = factories.lead_form()
    response = admin_client.post(reverse("admin:connectors_leadform_enable", args=[form.pk]), {
        "_enable": "1", "crm_connection": crm.pk, "sync_every_minutes": "30", "lead_types": ["EVENT"],
        "on_linkedin_delete": "local"})
    assert response.status_code == 302, response.context["enable"].errors if response.context else response
    integration = Integration.objects.get(form=form)
    event = the_event(integration, kind=Kind.ENABLED, actor="admin", via=Via.ADMIN)
    assert event.detail["sync_every_minutes"] == 30 and event.detail["crm_connection"] == crm.name
    assert {r["crm_field"] for r in event.detail["auto_mapped"]} >= {"emailAddress"}


def test_an_edited_interval_is_one_schedule_event_with_old_and_new(admin_client, integration):
    data = integration_post(integration)
    data["sync_every_minutes"] = 60
    assert admin_client.post(change_url(integration), data).status_code == 302
    event = the_event(integration, kind=Kind.SCHEDULE_CHANGED, actor="admin", via=Via.ADMIN)
    assert event.detail == {"sync_every_minutes": {"old": 15, "new": 60}}


def test_a_state_edited_on_the_page_is_one_pause_event(admin_client, integration):
    data = integration_post(integration)
    data["state"] = "paused"
    admin_client.post(change_url(integration), data)
    the_event(integration, kind=Kind.PAUSED, actor="admin", detail={"state": {"old": "active", "new": "paused"}})


def test_other_settings_edited_on_the_page_are_one_settings_event(admin_client, integration):
    data = integration_post(integration)
    data.update(on_linkedin_delete="crm", include_test_leads="on")
    admin_client.post(change_url(integration), data)
    event = the_event(integration, kind=Kind.SETTINGS_CHANGED, actor="admin")
    assert event.detail == {"on_linkedin_delete": {"old": "local", "new": "crm"},
                            "include_test_leads": {"old": False, "new": True}}


def test_saving_the_page_unchanged_writes_nothing(admin_client, integration):
    assert admin_client.post(change_url(integration), integration_post(integration)).status_code == 302
    assert not IntegrationEvent.objects.exists()


def test_a_mapping_edit_on_the_integration_page_lists_each_row_changed_with_old_and_new(admin_client, integration):
    job, utm = row(integration, "Job function"), row(integration, "utm_source")
    response = admin_client.post(change_url(integration), integration_post(integration, {
        job: {"crm_field": "Job_Function_1", "transform": "upper"}, utm: {"crm_field": "companyName"}}))
    assert response.status_code == 302
    event = the_event(integration, kind=Kind.MAPPING_CHANGED, actor="admin", via=Via.ADMIN)
    assert event.detail["rows"] == [
        {"source_kind": "question", "source_key": "3", "source_label": "Job function",
         "changes": {"crm_field": {"old": "", "new": "Job_Function_1"}, "transform": {"old": "none", "new": "upper"}}},
        {"source_kind": "hidden", "source_key": "utm_source", "source_label": "utm_source",
         "changes": {"crm_field": {"old": "", "new": "companyName"}}},
    ]
    assert "Job function → Job_Function_1" in event.summary


def test_a_mapping_edit_that_clears_the_review_flag_is_still_one_event(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(mapping_review={"version": 2, "added": [], "removed": []})
    integration.refresh_from_db()
    job = row(integration, "Job function")
    admin_client.post(change_url(integration), integration_post(integration, {job: {"crm_field": "companyName"}}))
    assert Integration.objects.get(pk=integration.pk).mapping_review == {}
    the_event(integration, kind=Kind.MAPPING_CHANGED)


def test_a_refused_mapping_edit_writes_nothing(admin_client, integration):
    job = row(integration, "Job function")
    response = admin_client.post(change_url(integration), integration_post(integration, {job: {"crm_field": "firstName"}}))
    assert response.status_code == 200  # refused: firstName is taken
    assert not IntegrationEvent.objects.exists()


def test_a_reviewer_editing_the_mapping_list_writes_one_event_by_them(reviewer, integration):
    first, job = row(integration, "First name"), row(integration, "Job function")
    response = reviewer.post(list_url(integration), list_post([first, job], {
        first: {"crm_field": ""}, job: {"crm_field": "firstName", "transform": "title"}}))
    assert response.status_code == 302
    event = the_event(integration, kind=Kind.MAPPING_CHANGED, actor="rita", via=Via.ADMIN)
    assert [(r["source_label"], r["changes"]) for r in event.detail["rows"]] == [
        ("First name", {"crm_field": {"old": "firstName", "new": ""}}),
        ("Job function", {"crm_field": {"old": "", "new": "firstName"}, "transform": {"old": "none", "new": "title"}}),
    ]


def test_a_row_edited_on_its_own_page_writes_one_event(admin_client, integration):
    job = row(integration, "Job function")
    response = admin_client.post(reverse("admin:mappings_fieldmapping_change", args=[job.pk]), {
        "crm_field": "companyName", "transform": "none", "transform_option": "", "enabled": "on"})
    assert response.status_code == 302
    event = the_event(integration, kind=Kind.MAPPING_CHANGED, actor="admin")
    assert event.detail["rows"][0]["changes"] == {"crm_field": {"old": "", "new": "companyName"}}


def test_a_mapping_import_in_the_admin_is_one_event_with_the_rows_it_changed(admin_client, integration):
    document = mapping_export(integration=integration)
    document["rows"][0]["transform"] = "upper"
    upload = SimpleUploadedFile("mapping.json", json.dumps(document).encode(), content_type="application/json")
    assert admin_client.post(admin_url("import_mapping", integration), {"mapping_file": upload}).status_code == 302
    event = the_event(integration, kind=Kind.MAPPING_IMPORTED, actor="admin", via=Via.ADMIN)
    assert event.detail["updated"] == 1
    assert event.detail["rows"] == [{"source_kind": "question", "source_key": "1", "source_label": "First name",
                                     "changes": {"transform": {"old": "none", "new": "upper"}}}]


def test_marking_the_mapping_reviewed_in_the_admin_writes_one_event(admin_client, integration):
    Integration.objects.filter(pk=integration.pk).update(mapping_review={"version": 3, "added": [], "removed": []})
    assert admin_client.post(admin_url("mapping_reviewed", integration)).status_code == 302
    event = the_event(integration, kind=Kind.MAPPING_REVIEWED, actor="admin", via=Via.ADMIN)
    assert event.detail["version"] == 3


# --- from the command line ------------------------------------------------------------------------------------


def test_enable_from_the_cli_writes_one_event_by_cli():
    crm = catalogue(factories.crm_connection())
    form = factories.lead_form()
    result = cli("enable", form.linkedin_id, "--crm", crm.name, "--no-create-fields", "--every", "20")
    assert result.code == 0, result.err
    event = the_event(Integration.objects.get(form=form), kind=Kind.ENABLED, actor="cli", via=Via.CLI)
    assert event.detail["sync_every_minutes"] == 20 and event.detail["crm_fields_created"] == []


@pytest.mark.parametrize("args, kind", [(["pause"], Kind.PAUSED), (["teardown"], Kind.TORN_DOWN),
                                        (["teardown", "--purge"], Kind.TORN_DOWN),
                                        (["configure", "--on-delete", "crm"], Kind.SETTINGS_CHANGED)])
def test_each_cli_subcommand_writes_one_event_by_cli(integration, args, kind):
    result = cli(args[0], integration.form.linkedin_id, *args[1:], "--json")
    assert result.code == 0, result.err
    the_event(integration, kind=kind, actor="cli", via=Via.CLI)


def test_resume_and_recreate_from_the_cli_each_write_one_event(integration):
    Integration.objects.filter(pk=integration.pk).update(state="paused")
    assert cli("resume", integration.form.linkedin_id).code == 0
    the_event(integration, kind=Kind.RESUMED, actor="cli", via=Via.CLI)
    integration_teardown(integration=integration, by=None)
    IntegrationEvent.objects.all().delete()
    assert cli("recreate", integration.form.linkedin_id).code == 0
    the_event(integration, kind=Kind.RECREATED, actor="cli", via=Via.CLI)


def test_a_refused_cli_subcommand_writes_nothing(integration):
    integration_teardown(integration=integration, by=None)
    assert cli("pause", integration.form.linkedin_id).code == 1
    assert cli("teardown", integration.form.linkedin_id).code == 0  # already torn down: nothing left to do
    assert not IntegrationEvent.objects.exists()


def test_a_cli_mapping_import_is_one_event_with_the_rows_it_changed(integration, tmp_path):
    document = mapping_export(integration=integration)
    document["rows"][2]["crm_field"] = "companyName"
    assert cli("mapping", "import", integration.form.linkedin_id, write(tmp_path, document)).code == 0
    event = the_event(integration, kind=Kind.MAPPING_IMPORTED, actor="cli", via=Via.CLI)
    assert event.detail["rows"] == [{"source_kind": "question", "source_key": "3", "source_label": "Job function",
                                     "changes": {"crm_field": {"old": "", "new": "companyName"}}}]


def test_a_refused_cli_mapping_import_writes_nothing(integration, tmp_path):
    document = mapping_export(integration=integration)
    document["rows"][1]["crm_field"] = ""  # emailAddress unmapped: refused
    assert cli("mapping", "import", integration.form.linkedin_id, write(tmp_path, document)).code == 1
    assert not IntegrationEvent.objects.exists()


def test_recreate_with_a_mapping_file_is_one_event_that_lists_the_imported_rows(integration, tmp_path):
    document = mapping_export(integration=integration)
    document["rows"][0]["crm_field"] = ""
    integration_teardown(integration=integration, by=None)
    assert cli("recreate", integration.form.linkedin_id, "--mapping", write(tmp_path, document)).code == 0
    event = the_event(integration, kind=Kind.RECREATED, actor="cli", via=Via.CLI)
    assert event.detail["mapping_imported"]["updated"] == 1
    assert event.detail["rows"][0]["changes"] == {"crm_field": {"old": "firstName", "new": ""}}


def test_mapping_reviewed_from_the_cli_writes_one_event_only_when_it_was_flagged(integration):
    assert cli("mapping", "reviewed", integration.form.linkedin_id).code == 0
    assert not IntegrationEvent.objects.exists()  # nothing to clear
    Integration.objects.filter(pk=integration.pk).update(mapping_review={"version": 2, "added": [], "removed": []})
    assert cli("mapping", "reviewed", integration.form.linkedin_id).code == 0
    the_event(integration, kind=Kind.MAPPING_REVIEWED, actor="cli", via=Via.CLI)


def test_a_sync_started_from_the_cli_is_recorded_with_its_run(integration):
    # LinkedIn is not reachable here: the run fails (exit 1), and who started it is still recorded.
    result = cli("sync", integration.form.linkedin_id, "--days", "3")
    assert result.code == 1
    event = the_event(integration, kind=Kind.SYNC_STARTED, actor="cli", via=Via.CLI)
    assert event.detail["trigger"] == "backfill" and event.detail["days"] == 3
    assert event.detail["run"] == integration.runs.get().pk


def test_a_sync_refused_as_bad_usage_writes_nothing(integration):
    assert cli("sync", integration.form.linkedin_id, "--days", "500").code == 2
    assert not IntegrationEvent.objects.exists()


def test_a_new_form_version_completing_the_mapping_is_recorded_as_leadsync_itself(integration):
    from connectors.models import LeadFormVersion

    form = integration.form
    definition = dict(form.versions.get().definition, version=2)
    definition["questions"] = definition["questions"] + [
        {"id": "9", "name": "diet", "text": "Dietary requirements", "predefined_field": None, "type": "text",
         "required": False, "max_length": 300, "options": [], "label": None}]
    LeadFormVersion.objects.create(form=form, version=2, definition=definition)
    integrations_review_form_version(form=form, version=2)
    event = the_event(integration, kind=Kind.MAPPING_AUTO, actor="system", via=Via.SYSTEM)
    assert "9" in [r["source_key"] for r in event.detail["rows_added"]]  # with the metadata rows it lacked


# --- shown, and kept from edits ------------------------------------------------------------------------------


def events_for(integration, n):
    IntegrationEvent.objects.bulk_create(
        IntegrationEvent(integration=integration, kind=Kind.PAUSED, actor="admin", via=Via.ADMIN, summary=f"event {i}")
        for i in range(n))


def page_queries(client, integration):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(change_url(integration))
    assert response.status_code == 200
    return len(queries.captured_queries), response


@pytest.mark.usefixtures("health_cached")
def test_the_integration_page_shows_the_newest_50_events_newest_first_in_a_fixed_number_of_queries(admin_client,
                                                                                                    integration):
    events_for(integration, 2)
    few, _ = page_queries(admin_client, integration)
    events_for(integration, 80)
    record(integration, Kind.TORN_DOWN, "ada", Via.CLI, "the newest one")
    many, response = page_queries(admin_client, integration)
    assert many == few, (few, many)
    html = response.content.decode()
    assert 'id="audit-trail"' in html and "Audit trail" in html
    shown = response.context["audit_events"]
    assert len(shown) == 50 and shown[0].summary == "the newest one"
    full = reverse("admin:mappings_integrationevent_changelist") + f"?integration__id__exact={integration.pk}"
    assert f'href="{full}"' in html


def test_the_full_list_filters_by_kind_via_and_integration(admin_client, integration):
    other = factories.integration()
    record(integration, Kind.PAUSED, "admin", Via.ADMIN, "paused here")
    record(integration, Kind.RESUMED, "cli", Via.CLI, "resumed here")
    record(other, Kind.PAUSED, "cli", Via.CLI, "paused elsewhere")
    url = reverse("admin:mappings_integrationevent_changelist")
    page = admin_client.get(url, {"integration__id__exact": integration.pk, "via__exact": "cli"}).content.decode()
    assert "resumed here" in page and "paused here" not in page and "paused elsewhere" not in page
    page = admin_client.get(url, {"kind__exact": "paused"}).content.decode()
    assert "paused here" in page and "paused elsewhere" in page and "resumed here" not in page


def test_nobody_adds_changes_or_deletes_an_event_and_only_sync_admins_and_superusers_see_them(
        admin_client, sync_admin, reviewer, integration):
    event = record(integration, Kind.PAUSED, "admin", Via.ADMIN, "paused")
    changelist = reverse("admin:mappings_integrationevent_changelist")
    change = reverse("admin:mappings_integrationevent_change", args=[event.pk])
    for client in (admin_client, sync_admin):
        assert client.get(changelist).status_code == 200
        page = client.get(change)
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        assert client.get(reverse("admin:mappings_integrationevent_add")).status_code == 403
        assert client.post(reverse("admin:mappings_integrationevent_delete", args=[event.pk]),
                           {"post": "yes"}).status_code == 403
        assert client.post(change, {"summary": "rewritten"}).status_code == 403
    assert IntegrationEvent.objects.get(pk=event.pk).summary == "paused"
    assert sync_admin.get(change_url(integration)).context["audit_events"] == [event]
    assert reviewer.get(changelist).status_code == 403
    page = reviewer.get(change_url(integration))
    assert page.status_code == 200 and 'id="audit-trail"' not in page.content.decode()


def test_no_secret_is_in_any_event(admin_client, integration, tmp_path):
    secrets = [integration.crm_connection.secret_key, integration.form.owner.connection.access_token,
               integration.form.owner.connection.refresh_token]
    admin_client.post(admin_url("pause", integration))
    admin_client.post(admin_url("resume", integration))
    data = integration_post(integration, {row(integration, "Job function"): {"crm_field": "companyName"}})
    data["sync_every_minutes"] = 45
    admin_client.post(change_url(integration), data)
    document = mapping_export(integration=integration)
    document["rows"][0]["transform"] = "upper"
    cli("mapping", "import", integration.form.linkedin_id, write(tmp_path, document))
    cli("sync", integration.form.linkedin_id)
    cli("teardown", integration.form.linkedin_id)
    cli("recreate", integration.form.linkedin_id)
    action(admin_client, "sync_now", integration)
    events = list(IntegrationEvent.objects.all())
    assert len(events) >= 8
    dumped = json.dumps([[e.summary, e.detail, e.actor] for e in events])
    for secret in secrets:
        assert secret and secret not in dumped
    page = admin_client.get(reverse("admin:mappings_integrationevent_changelist")).content.decode()
    for event in events:
        page += admin_client.get(reverse("admin:mappings_integrationevent_change", args=[event.pk])).content.decode()
    for secret in secrets:
        assert secret not in page


def test_record_is_the_one_way_in(integration):
    event = record(integration, Kind.PAUSED, *CLI, "Paused.", {"state": {"old": "active", "new": "paused"}})
    assert (event.actor, event.via, event.detail["state"]["new"]) == ("cli", "cli", "paused")


# --- `leadsync audit` --------------------------------------------------------------------------------------------


def test_leadsync_audit_lists_the_events_newest_first_with_json(integration):
    assert cli("pause", integration.form.linkedin_id).code == 0
    assert cli("resume", integration.form.linkedin_id).code == 0
    result = cli("audit", integration.form.linkedin_id, "--json")
    assert result.code == 0, result.err
    assert [(e["kind"], e["actor"], e["via"]) for e in result.json["events"]] == [
        ("resumed", "cli", "cli"), ("paused", "cli", "cli")]
    assert result.json["events"][0]["detail"] == {"state": {"old": "paused", "new": "active"}}
    text = cli("audit", integration.form.linkedin_id, "--kind", "paused", "--limit", "5")
    assert text.code == 0 and "Paused by cli (Command line)" in text.out and "Resumed" not in text.out


@pytest.mark.parametrize("args", [["--limit", "0"], ["--kind", "nope"]])
def test_leadsync_audit_refuses_bad_usage_with_exit_2(integration, args):
    assert cli("audit", integration.form.linkedin_id, *args).code == 2


def test_leadsync_audit_of_an_unknown_form_is_bad_usage():
    assert cli("audit", "999999").code == 2


# --- the integration's beat entry, edited behind its page (superusers only) -------------------------------------


def beat_action(client, name, integration):
    return client.post(reverse("admin:django_celery_beat_periodictask_changelist"),
                       {"action": name, "_selected_action": [Integration.objects.get(pk=integration.pk).periodic_task_id]})


def test_disabling_an_integrations_beat_entry_in_the_schedules_list_is_one_schedule_event(admin_client, integration):
    assert beat_action(admin_client, "disable_tasks", integration).status_code == 302
    event = the_event(integration, kind=Kind.SCHEDULE_CHANGED, actor="admin", via=Via.ADMIN)
    assert event.detail == {"beat_entry_enabled": {"old": True, "new": False}}
    IntegrationEvent.objects.all().delete()
    beat_action(admin_client, "toggle_tasks", integration)
    the_event(integration, kind=Kind.SCHEDULE_CHANGED, detail={"beat_entry_enabled": {"old": False, "new": True}})


def test_the_schedules_list_keeps_its_actions_labels(admin_client, integration):
    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert "Disable selected tasks" in page and "Run selected tasks" in page


def test_a_heartbeat_entry_changed_in_the_schedules_list_is_no_integrations_event(admin_client, integration):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    other = PeriodicTask.objects.create(name="not an integration", task="x", interval=every)
    admin_client.post(reverse("admin:django_celery_beat_periodictask_changelist"),
                      {"action": "disable_tasks", "_selected_action": [other.pk]})
    assert not IntegrationEvent.objects.exists()
