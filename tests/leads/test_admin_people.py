"""The privacy pages of the admin: one person exported (the CLI's document, as a download) or
erased (after a confirmation that shows counts, not data), each behind its own permission, and the
read-only audit of every request, which never holds the person."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from connectors.crm.client import ObjectResult
from leads.models import Lead, LeadNotification, PersonRequest
from leads.people import email_digest
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = "admin:leads_personrequest_person"
ANSWERS = {"answers": {"1": {"name": "firstName", "value": "Grace"}, "2": {"name": "lastName", "value": "Hopper"},
                       "3": {"name": "email", "value": "Grace@Example.com"}}, "hidden_fields": {}, "consents": {}}


@pytest.fixture
def grace():
    integration = factories.integration()
    synced = factories.lead(integration, email="Grace@Example.com", answers=ANSWERS, state="synced", crm_id="77",
                            raw={"id": "g1", "firstName": "Grace"})
    failed = factories.lead(integration, email="grace@example.com", answers=ANSWERS, state="failed")
    LeadNotification.objects.create(lead_urn=f"urn:li:leadGenFormResponse:{synced.linkedin_id}",
                                    lead_id=synced.linkedin_id, action="CREATED", payload={"type": "LEAD_ACTION"})
    factories.lead(integration, email="other@example.com")
    return synced, failed


class FakeCrm:
    def __init__(self):
        self.deleted, self.refuse = [], False

    def delete_leads(self, ids):
        if self.refuse:
            return [ObjectResult(0, False, ids[0], 999, "Locked record")]
        self.deleted += ids
        return [ObjectResult(0, True, ids[0])]


@pytest.fixture
def crm(monkeypatch):
    fake = FakeCrm()
    monkeypatch.setattr("leads.people.crm_client", lambda connection: fake)
    return fake


@pytest.fixture
def staff(django_user_model):
    """A logged-in staff client with exactly the permissions (codenames of the leads app) or group given."""
    def make(*codenames, group=None, username="pat"):
        user = django_user_model.objects.create_user(username, password="pw-123-xyz", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leads", codename__in=codenames))
        if group:
            user.groups.add(Group.objects.get(name=group))
        client = Client()
        client.force_login(user)
        return client
    return make


def post(client, step, email="GRACE@example.com", **extra):
    return client.post(reverse(PAGE), {"step": step, "email": email, **extra})


def cli_export(email):
    out = StringIO()
    call_command("leadsync", "person", "export", email, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def assert_holds_nothing_about_grace(row):
    for field in row._meta.concrete_fields:
        value = str(field.value_from_object(row)).lower()
        assert "grace" not in value and "hopper" not in value, (field.name, value)


# --- who may -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codenames, export, erase", [
    (("export_person",), True, False),
    (("erase_person",), False, True),
    (("export_person", "erase_person"), True, True),
    (("view_lead", "change_lead", "export_lead", "view_personrequest"), False, False),
])
def test_each_permission_opens_its_own_step_and_no_other(grace, crm, staff, codenames, export, erase):
    client = staff(*codenames)
    page = client.get(reverse(PAGE))
    assert page.status_code == (200 if export or erase else 403)
    if page.status_code == 200:
        html = page.content.decode()
        assert ('id="person-export"' in html) == export and ('id="person-erase"' in html) == erase
    assert post(client, "export").status_code == (200 if export else 403)
    assert post(client, "erase").status_code == (200 if erase else 403)
    assert post(client, "confirm").status_code == (302 if erase else 403)
    assert Lead.objects.filter(email__iexact="grace@example.com").exists() != erase


def test_a_reviewer_can_neither_export_nor_erase_nor_read_the_audit(grace, staff):
    reviewer = staff(group="Lead reviewers")
    assert reviewer.get(reverse(PAGE)).status_code == 403
    assert post(reviewer, "export").status_code == 403 and post(reviewer, "confirm").status_code == 403
    assert reviewer.get(reverse("admin:leads_personrequest_changelist")).status_code == 403
    assert Lead.objects.filter(email__iexact="grace@example.com").count() == 2 and not PersonRequest.objects.exists()


def test_the_leads_list_and_the_admin_index_link_to_the_page_for_those_who_may(grace, staff):
    admin = staff(group="Lead sync admins")
    url = reverse(PAGE)
    assert url in admin.get(reverse("admin:leads_lead_changelist")).content.decode()
    assert url in admin.get(reverse("admin:index")).content.decode()
    reviewer = staff(group="Lead reviewers", username="rita")
    assert url not in reviewer.get(reverse("admin:leads_lead_changelist")).content.decode()
    assert url not in reviewer.get(reverse("admin:index")).content.decode()


# --- export --------------------------------------------------------------------------------------------------


def test_the_download_is_the_cli_s_document(grace, admin_client):
    response = post(admin_client, "export")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="person-export-')
    assert "grace" not in response["Content-Disposition"].lower()
    downloaded = json.loads(response.content)
    assert sorted(l["linkedin_id"] for l in downloaded["leads"]) == sorted(l.linkedin_id for l in grace)
    assert len(downloaded["notifications"]) == 1 and "other@example.com" not in response.content.decode()
    assert downloaded == {k: v for k, v in cli_export("GRACE@example.com").items() if k != "ok"}


def test_an_export_is_recorded_with_the_admin_s_name_and_without_the_person(grace, staff):
    post(staff("export_person", username="erin"), "export")
    [row] = PersonRequest.objects.all()
    assert (row.kind, row.via, row.requested_by, row.leads, row.notifications) == ("export", "admin", "erin", 2, 1)
    assert row.email_digest == email_digest("grace@example.com")
    assert_holds_nothing_about_grace(row)


def test_an_address_that_is_not_one_is_refused_and_nothing_recorded(grace, admin_client):
    response = post(admin_client, "export", email="not-an-address")
    assert response.status_code == 200 and "email" in response.context["form"].errors
    assert not PersonRequest.objects.exists()


# --- erase ---------------------------------------------------------------------------------------------------


def test_the_confirmation_shows_counts_not_data_and_erases_nothing(grace, admin_client):
    response = post(admin_client, "erase")
    html = response.content.decode()
    assert response.status_code == 200 and response.context["summary"] == {
        "leads": 2, "in_crm": 1, "integrations": 1, "notifications": 1}
    assert 'data-count="leads">2<' in html and 'data-count="in_crm">1<' in html
    assert "Hopper" not in html and grace[0].linkedin_id not in html, "counts, not the data"
    assert 'name="crm"' in html and 'value="confirm"' in html
    assert Lead.objects.filter(email__iexact="grace@example.com").count() == 2 and not PersonRequest.objects.exists()


def test_confirming_erases_the_person_here_only_by_default(grace, admin_client, crm):
    response = post(admin_client, "confirm", email="grace@example.com")
    assert response.status_code == 302 and response.url == reverse("admin:leads_personrequest_changelist")
    assert not Lead.objects.filter(email__iexact="grace@example.com").exists() and crm.deleted == []
    assert all(lead.state == "deleted" and lead.answers == {} for lead in Lead.objects.filter(pk__in=[g.pk for g in grace]))
    row = PersonRequest.objects.get()
    assert (row.kind, row.via, row.leads, row.crm_requested) == ("erase", "admin", 2, False)
    assert_holds_nothing_about_grace(row)


def test_confirming_with_crm_deletes_their_crm_leads_too(grace, admin_client, crm):
    response = post(admin_client, "confirm", crm="on")
    assert response.status_code == 302 and crm.deleted == ["77"]
    row = PersonRequest.objects.get()
    assert (row.crm_requested, row.crm_deleted, row.crm_kept, row.crm_failed) == (True, 1, 1, 0)


def test_a_crm_refusal_is_shown_erases_nothing_here_and_is_recorded(grace, admin_client, crm):
    crm.refuse = True
    response = post(admin_client, "confirm", crm="on")
    assert response.status_code == 200
    assert any("nothing was erased" in str(m) for m in response.context["messages"])
    assert Lead.objects.filter(email__iexact="grace@example.com").count() == 2
    row = PersonRequest.objects.get()
    assert (row.outcome, row.crm_failed) == ("failed", 1)
    assert_holds_nothing_about_grace(row)


# --- the audit -----------------------------------------------------------------------------------------------


def test_the_audit_is_read_only_even_for_a_superuser(grace, admin_client):
    post(admin_client, "export")
    row = PersonRequest.objects.get()
    change = admin_client.get(reverse("admin:leads_personrequest_change", args=[row.pk])).content.decode()
    assert 'name="_save"' not in change
    assert admin_client.get(reverse("admin:leads_personrequest_add")).status_code == 403
    assert admin_client.post(reverse("admin:leads_personrequest_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert PersonRequest.objects.filter(pk=row.pk).exists()


def test_the_audit_finds_a_person_s_requests_by_address_without_storing_it(grace, admin_client):
    post(admin_client, "export")
    post(admin_client, "confirm")
    PersonRequest.objects.create(kind="export", via="cli", requested_by="cli", email_digest=email_digest("x@y.z"))
    changelist = reverse("admin:leads_personrequest_changelist")
    found = admin_client.get(changelist, {"q": "Grace@Example.com"})
    assert found.context["cl"].result_count == 2
    assert admin_client.get(changelist, {"kind__exact": "erase"}).context["cl"].result_count == 1
    assert reverse(PAGE) in admin_client.get(changelist).content.decode()
