"""Who may do what in the admin. Four staff people: a superuser; a "Lead sync admins" member, who
runs the whole journey (connections, forms, integrations and mappings, leads with their export,
runs, notifications, schedules to look at) but never manages users or groups; a "Lead reviewers"
member, who works failed leads and mappings, never reaches connections, never exports and never
exports or erases a person; and
staff in no group, who get nothing. Both groups are made by data migrations. Each page and each
list action is checked for each of them, and every admin page sends an anonymous visitor to the
login page."""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from leads.models import LeadNotification, PersonRequest
from mappings.models import Integration
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = ("superuser", "sync admin", "reviewer", "staff")

SYNC_ADMIN_PERMISSIONS = {
    *(f"connectors.{action}_{model}" for model in ("linkedinconnection", "crmconnection")
      for action in ("view", "add", "change", "delete")),
    "connectors.view_crmfield", "connectors.view_linkedinowner", "connectors.view_linkedinevent",
    "connectors.view_leadform", "connectors.view_leadformversion",
    "mappings.view_integration", "mappings.add_integration", "mappings.change_integration",
    "mappings.delete_integration", "mappings.view_fieldmapping", "mappings.change_fieldmapping",
    "leads.view_lead", "leads.change_lead", "leads.delete_lead", "leads.export_lead", "leads.view_syncrun",
    "leads.view_leadnotification", "leads.change_leadnotification",
    "leads.view_personrequest", "leads.export_person", "leads.erase_person", "mappings.view_integrationevent",
    "django_celery_beat.view_periodictask",
}


@pytest.fixture
def world():
    """One of everything an admin page can show."""
    connection = factories.linkedin_connection()
    crm = factories.crm_connection()
    form = factories.lead_form(factories.owner(connection))
    integration = factories.integration(form=form, crm=crm)
    mapping = factories.field_mapping(integration)
    lead = factories.lead(integration, state="failed", last_error="CRM said no")
    notification = LeadNotification.objects.create(
        lead_urn=f"urn:li:leadGenFormResponse:{lead.linkedin_id}", lead_id=lead.linkedin_id, action="CREATED",
        form_id=form.linkedin_id, payload={"type": "LEAD_ACTION"})
    task = PeriodicTask.objects.create(
        name="sync every 15 minutes", task="leads.tasks.sync_integration",
        interval=IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES))
    person_request = PersonRequest.objects.create(kind="export", via="cli", requested_by="cli", leads=1)
    return {"connection": connection, "crm": crm, "form": form, "integration": integration, "mapping": mapping,
            "lead": lead, "notification": notification, "task": task, "run": factories.sync_run(integration),
            "person_request": person_request}


@pytest.fixture
def clients(django_user_model):
    """A logged-in client per role, and an anonymous one."""
    def login(username, *, group=None, superuser=False):
        user = django_user_model.objects.create_user(username, password=f"pw-{username}-123", is_staff=True,
                                                     is_superuser=superuser)
        if group:
            user.groups.add(Group.objects.get(name=group))
        client = Client()
        client.force_login(user)
        return client

    return {"superuser": login("sam", superuser=True), "sync admin": login("ada", group="Lead sync admins"),
            "reviewer": login("rita", group="Lead reviewers"), "staff": login("stan"), "anonymous": Client()}


def admin_url(name, *args):
    return reverse(f"admin:{name}", args=args)


# page: (url, status for the superuser, the sync admin, the reviewer, staff in no group)
def pages(w):
    return {
        "admin index": (admin_url("index"), 200, 200, 200, 200),
        "LinkedIn connections": (admin_url("connectors_linkedinconnection_changelist"), 200, 200, 403, 403),
        "LinkedIn connection": (admin_url("connectors_linkedinconnection_change", w["connection"].pk),
                                200, 200, 403, 403),
        "CRM connections": (admin_url("connectors_crmconnection_changelist"), 200, 200, 403, 403),
        "new CRM connection": (admin_url("connectors_crmconnection_add"), 200, 200, 403, 403),
        "CRM connection": (admin_url("connectors_crmconnection_change", w["crm"].pk), 200, 200, 403, 403),
        "CRM fields": (admin_url("connectors_crmfield_changelist"), 200, 200, 403, 403),
        "organizations": (admin_url("connectors_linkedinowner_changelist"), 200, 200, 403, 403),
        "events": (admin_url("connectors_linkedinevent_changelist"), 200, 200, 403, 403),
        "forms": (admin_url("connectors_leadform_changelist"), 200, 200, 403, 403),
        "form": (admin_url("connectors_leadform_change", w["form"].pk), 200, 200, 403, 403),
        "form versions": (admin_url("connectors_leadformversion_changelist"), 200, 200, 403, 403),
        "integrations": (admin_url("mappings_integration_changelist"), 200, 200, 200, 403),
        "integration": (admin_url("mappings_integration_change", w["integration"].pk), 200, 200, 200, 403),
        "backfill": (admin_url("mappings_integration_backfill", w["integration"].pk), 200, 200, 403, 403),
        "mappings": (admin_url("mappings_fieldmapping_changelist"), 200, 200, 200, 403),
        "mapping": (admin_url("mappings_fieldmapping_change", w["mapping"].pk), 200, 200, 200, 403),
        "leads": (admin_url("leads_lead_changelist"), 200, 200, 200, 403),
        "lead": (admin_url("leads_lead_change", w["lead"].pk), 200, 200, 200, 403),
        "leads by form": (admin_url("leads_lead_forms"), 200, 200, 200, 403),
        "form table": (admin_url("leads_lead_form_table", w["form"].pk), 200, 200, 200, 403),
        "lead list CSV": (admin_url("leads_lead_export") + "?state__exact=failed", 200, 200, 403, 403),
        "form table CSV": (admin_url("leads_lead_form_export", w["form"].pk), 200, 200, 403, 403),
        "sync runs": (admin_url("leads_syncrun_changelist"), 200, 200, 200, 403),
        "sync run": (admin_url("leads_syncrun_change", w["run"].pk), 200, 200, 200, 403),
        "notifications": (admin_url("leads_leadnotification_changelist"), 200, 200, 200, 403),
        "notification": (admin_url("leads_leadnotification_change", w["notification"].pk), 200, 200, 200, 403),
        "person data requests": (admin_url("leads_personrequest_changelist"), 200, 200, 403, 403),
        "person data request": (admin_url("leads_personrequest_change", w["person_request"].pk), 200, 200, 403, 403),
        "export or erase a person": (admin_url("leads_personrequest_person"), 200, 200, 403, 403),
        "periodic tasks": (admin_url("django_celery_beat_periodictask_changelist"), 200, 200, 403, 403),
        "periodic task": (admin_url("django_celery_beat_periodictask_change", w["task"].pk), 200, 200, 403, 403),
        "users": (admin_url("auth_user_changelist"), 200, 403, 403, 403),
        "new user": (admin_url("auth_user_add"), 200, 403, 403, 403),
        "groups": (admin_url("auth_group_changelist"), 200, 403, 403, 403),
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_admin_pages_it_needs_and_no_others(role, world, clients):
    expected, got = {}, {}
    for page, (url, *statuses) in pages(world).items():
        expected[page] = statuses[ROLES.index(role)]
        got[page] = clients[role].get(url).status_code
    assert got == expected


def test_anonymous_visitors_are_sent_to_the_login_page(world, clients):
    for page, (url, *_) in pages(world).items():
        response = clients["anonymous"].get(url)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("admin:login")), page


def test_only_those_who_may_export_get_any_lead_data_from_the_exports(world, clients):
    email = world["lead"].email.encode()
    for url in (admin_url("leads_lead_export"), admin_url("leads_lead_form_export", world["form"].pk)):
        for role in ("superuser", "sync admin"):
            assert email in b"".join(clients[role].get(url).streaming_content), (role, url)
        for role in ("reviewer", "staff", "anonymous"):
            response = clients[role].get(url)
            assert not response.streaming and email not in response.content, (role, url)


def actions_on(client, url):
    """The actions a list offers (the options of its action menu)."""
    html = client.get(url).content.decode()
    menu = re.search(r'<select name="action".*?</select>', html, re.S)
    return set(re.findall(r'<option value="(\w+)"', menu.group(0))) if menu else set()


DESTRUCTIVE = {"tear_down", "tear_down_and_purge", "recreate", "delete_selected"}
BEAT_CHANGES = {"enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks"}
# list: (url name, {role: (actions it is offered, actions it is never offered)}); a role missing
# from a list is refused the list itself (see the pages test). Other actions may come with time;
# these ones must stay where they are.
LIST_ACTIONS = {
    "leads": ("leads_lead_changelist", {
        "superuser": ({"retry", "retry_same_error", "ignore", "unignore", "export_csv", "delete_selected"}, set()),
        "sync admin": ({"retry", "retry_same_error", "ignore", "unignore", "export_csv", "delete_selected"}, set()),
        "reviewer": ({"retry", "retry_same_error", "ignore", "unignore"}, {"export_csv", "delete_selected"}),
    }),
    "integrations": ("mappings_integration_changelist", {
        "superuser": ({"sync_now", "retry_failed_leads", *DESTRUCTIVE}, set()),
        "sync admin": ({"sync_now", "retry_failed_leads", *DESTRUCTIVE}, set()),
        "reviewer": ({"sync_now", "retry_failed_leads"}, DESTRUCTIVE),
    }),
    "LinkedIn connections": ("connectors_linkedinconnection_changelist", {
        "superuser": ({"discover_now", "check_tokens_now", "delete_selected"}, set()),
        "sync admin": ({"discover_now", "check_tokens_now", "delete_selected"}, set()),
    }),
    "CRM connections": ("connectors_crmconnection_changelist", {
        "superuser": ({"reload_fields", "delete_selected"}, set()),
        "sync admin": ({"reload_fields", "delete_selected"}, set()),
    }),
    "notifications": ("leads_leadnotification_changelist", {
        "superuser": ({"process_again", "delete_selected"}, set()),
        "sync admin": ({"process_again"}, {"delete_selected"}),
        "reviewer": (set(), {"process_again", "delete_selected"}),
    }),
    # Viewing the schedules is not changing them: no enable, disable, toggle or run for the admins.
    "periodic tasks": ("django_celery_beat_periodictask_changelist", {
        "superuser": ({*BEAT_CHANGES, "delete_selected"}, set()),
        "sync admin": (set(), {*BEAT_CHANGES, "delete_selected"}),
    }),
}


@pytest.mark.parametrize("role", ("superuser", "sync admin", "reviewer"))
def test_each_role_sees_only_the_list_actions_it_may_run(role, world, clients):
    problems = {}
    for name, (url_name, per_role) in LIST_ACTIONS.items():
        if role not in per_role:
            continue
        offered, never = per_role[role]
        got = actions_on(clients[role], admin_url(url_name))
        if not offered <= got or never & got:
            problems[name] = {"missing": offered - got, "offered but must not be": never & got}
    assert problems == {}


def test_the_sync_admins_group_has_exactly_the_journeys_permissions():
    group = Group.objects.get(name="Lead sync admins")
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert granted == SYNC_ADMIN_PERMISSIONS
    assert not any(name.startswith("auth.") for name in granted)


def test_a_sync_admin_tears_an_integration_down_and_recreates_it(world, clients):
    integration = world["integration"]
    url = admin_url("mappings_integration_changelist")
    clients["sync admin"].post(url, {"action": "tear_down", "_selected_action": [integration.pk]})
    integration.refresh_from_db()
    assert integration.state == Integration.State.TORN_DOWN
    clients["sync admin"].post(url, {"action": "recreate", "_selected_action": [integration.pk]})
    integration.refresh_from_db()
    assert integration.state == Integration.State.ACTIVE


def test_a_reviewer_posting_a_teardown_changes_nothing(world, clients):
    integration = world["integration"]
    clients["reviewer"].post(admin_url("mappings_integration_changelist"),
                             {"action": "tear_down", "_selected_action": [integration.pk]})
    integration.refresh_from_db()
    assert integration.state == Integration.State.ACTIVE


def test_a_viewer_of_the_schedules_cannot_disable_them(world, clients):
    task = world["task"]
    clients["sync admin"].post(admin_url("django_celery_beat_periodictask_changelist"),
                               {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled
    clients["superuser"].post(admin_url("django_celery_beat_periodictask_changelist"),
                              {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert not task.enabled


def test_sync_admins_may_connect_a_linkedin_account_and_reviewers_may_not(clients):
    response = clients["sync admin"].get(reverse("linkedin_connect"))
    assert response.status_code == 302 and "/authorization" in response["Location"]
    assert clients["reviewer"].get(reverse("linkedin_connect")).status_code == 403
