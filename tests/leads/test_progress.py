"""The progress views the admin's live bars poll: staff only, permission-checked, counts only, a
query or two."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from leads.selectors import run_progress
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_running_runs_progress_is_its_counts_and_percent(admin_client, django_assert_max_num_queries):
    run = factories.sync_run(state="running", progress_done=30, progress_total=120, created=25)
    url = reverse("admin:leads_syncrun_progress", args=[run.pk])
    with django_assert_max_num_queries(3):  # the session, the user, the run
        response = admin_client.get(url)
    data = response.json()
    assert "no-store" in response["Cache-Control"]
    assert data == {"run": run.pk, "state": "running", "stage": "pushing leads to the CRM", "done": 30, "total": 120,
                    "percent": 25, "finished": False, "pulled": 0, "created": 25, "updated": 0, "failed": 0}


def test_progress_is_indeterminate_while_the_pull_reads_and_full_once_succeeded():
    run = factories.sync_run(state="running", progress_done=40, progress_total=None)
    assert run_progress(run)["percent"] is None and run_progress(run)["stage"] == "reading leads from LinkedIn"
    run.state, run.progress_total = "succeeded", 50
    assert run_progress(run)["percent"] == 100 and run_progress(run)["finished"]
    run.state, run.progress_total, run.progress_done = "running", 0, 0
    assert run_progress(run)["percent"] == 100


def test_progress_carries_no_personal_data(admin_client):
    lead = factories.lead(email="secret.person@example.com")
    run = factories.sync_run(lead.integration, state="running")
    for url in (reverse("admin:leads_syncrun_progress", args=[run.pk]),
                reverse("admin:mappings_integration_progress", args=[lead.integration.pk])):
        body = admin_client.get(url).content.decode()
        assert "secret.person" not in body and "@" not in body
        assert set(json.loads(body)) <= {"run", "state", "stage", "done", "total", "percent", "finished", "pulled",
                                         "created", "updated", "failed", "run_url"}


def test_an_integrations_progress_follows_its_newest_run(admin_client, django_assert_max_num_queries):
    integration = factories.integration()
    url = reverse("admin:mappings_integration_progress", args=[integration.pk])
    assert admin_client.get(url).json()["run"] is None
    factories.sync_run(integration, state="succeeded", progress_done=5, progress_total=5)
    newest = factories.sync_run(integration, state="running", progress_done=1, progress_total=4)
    with django_assert_max_num_queries(4):  # the session, the user, the integration, its newest run
        data = admin_client.get(url).json()
    assert data["run"] == newest.pk and data["percent"] == 25
    assert data["run_url"] == reverse("admin:leads_syncrun_change", args=[newest.pk])
    assert admin_client.get(reverse("admin:mappings_integration_progress", args=[integration.pk + 999])).status_code == 404


def test_progress_is_for_staff_with_the_view_permission_only(client, django_user_model):
    run = factories.sync_run(state="running")
    urls = [reverse("admin:leads_syncrun_progress", args=[run.pk]),
            reverse("admin:mappings_integration_progress", args=[run.integration_id])]
    for url in urls:  # anonymous: sent to the login page, never the JSON
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    user = django_user_model.objects.create_user("staff", password="pw-123456", is_staff=True)
    client.force_login(user)
    assert [client.get(url).status_code for url in urls] == [403, 403]
    user.user_permissions.add(Permission.objects.get(codename="view_syncrun"),
                              Permission.objects.get(codename="view_integration"))
    assert [client.get(url).status_code for url in urls] == [200, 200]


def test_the_run_and_integration_pages_carry_their_live_bar(admin_client):
    run = factories.sync_run(state="running", progress_done=2, progress_total=8)
    page = admin_client.get(reverse("admin:leads_syncrun_change", args=[run.pk])).content.decode()
    assert 'id="run-progress"' in page and "leadsync/progress.js" in page and 'value="25"' in page
    page = admin_client.get(reverse("admin:mappings_integration_change", args=[run.integration_id])).content.decode()
    assert 'id="integration-progress"' in page and reverse("admin:mappings_integration_progress",
                                                           args=[run.integration_id]) in page


def test_discovery_progress_is_read_back_from_the_connections_status(admin_client):
    from connectors.discovery import discovery_progress

    connection = factories.linkedin_connection(discovery_status="running: organizations 1/4")
    url = reverse("admin:connectors_leadform_discovery_progress", args=[connection.pk])
    data = admin_client.get(url).json()
    assert (data["state"], data["stage"], data["done"], data["total"], data["percent"]) == \
        ("running", "organizations", 1, 4, 25)
    assert "token" not in json.dumps(data).lower()
    connection.discovery_status = "running: ad accounts 0"
    assert discovery_progress(connection=connection)["percent"] is None
    connection.discovery_status = "found 1 organizations, 0 ad accounts, 1 events, 2 forms"
    assert discovery_progress(connection=connection)["percent"] == 100
    connection.discovery_status = "failed: LinkedIn said no"
    assert discovery_progress(connection=connection)["state"] == "failed"
    page = admin_client.get(reverse("admin:connectors_leadform_discovery")).content.decode()
    assert url in page and "leadsync/progress.js" in page
