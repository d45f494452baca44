"""Every admin changelist and change page renders for a superuser, with a number of queries that
does not grow with the number of rows (no N+1), and no secret on any page."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import LeadNotification, PersonRequest
from mappings.audit import record
from mappings.models import IntegrationEvent
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SECRETS = ("AQV-access", "AQW-refresh", "SECRET")


def populate(n):
    for _ in range(n):
        li = factories.linkedin_connection()
        crm = factories.crm_connection()
        factories.crm_field(crm)
        org = factories.owner(li)
        ev = factories.event(org)
        form = factories.lead_form(org, event=ev)
        integ = factories.integration(form=form, crm=crm)
        factories.field_mapping(integ)
        factories.lead(integ)
        factories.lead(integ, state="failed", last_error="CRM said no")
        factories.sync_run(integ)
        LeadNotification.objects.create(
            lead_urn=f"urn:li:leadGenFormResponse:n-{integ.pk}", lead_id=f"n-{integ.pk}", action="CREATED",
            form_id=form.linkedin_id, lead_type="EVENT", payload={"type": "LEAD_ACTION"},
        )
        PersonRequest.objects.create(kind="erase", via="admin", requested_by="admin", leads=1)
        record(integ, IntegrationEvent.Kind.PAUSED, "admin", IntegrationEvent.Via.ADMIN, "Paused.",
               {"state": {"old": "active", "new": "paused"}})


def product_models():
    return [m for m in admin.site._registry if m._meta.app_label in ("connectors", "mappings", "leads")]


def changelist_queries(client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response.content.decode()


def test_every_product_model_is_registered():
    names = {m.__name__ for m in product_models()}
    assert names >= {
        "LinkedInConnection", "CrmConnection", "CrmField", "LinkedInOwner", "LinkedInEvent", "LeadForm",
        "LeadFormVersion", "Integration", "FieldMapping", "Lead", "SyncRun",
    }


def test_changelists_render_with_bounded_queries_and_no_secrets(admin_client):
    populate(2)
    few = {m: changelist_queries(admin_client, m)[0] for m in product_models()}
    populate(5)
    for model in product_models():
        many, html = changelist_queries(admin_client, model)
        assert many <= few[model], f"{model.__name__}: {few[model]} queries for 2 rows, {many} for 7"
        for secret in SECRETS:
            assert secret not in html, f"{model.__name__} changelist shows a secret"


def test_change_pages_render_without_secrets(admin_client):
    populate(1)
    for model in product_models():
        obj = model.objects.first()
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in SECRETS:
            assert secret not in html, f"{model.__name__} change page shows a secret"


def test_secret_lookups_are_refused_in_changelist_urls(admin_client):
    factories.linkedin_connection()
    url = reverse("admin:connectors_linkedinconnection_changelist")
    response = admin_client.get(url + "?access_token__startswith=AQV")
    assert response.status_code in (302, 400)  # the admin refuses the filter


@pytest.fixture
def crm_accepting_everything():
    """A CRM endpoint (for the factories' api_url) that answers every call with an empty success,
    so the admin's credential check and catalogue load go through."""
    import json

    import responses

    def answer(request):
        return 200, {}, json.dumps({"result": {"field": []}, "error": None, "id": json.loads(request.body)["id"]})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, "http://127.0.0.1:9/pubapi/v1.2/", callback=answer)
        yield mock


def test_crm_secret_is_write_only_and_kept_when_left_blank(admin_client, crm_accepting_everything):
    crm = factories.crm_connection(secret_key="KEEP-ME-SECRET")
    url = reverse("admin:connectors_crmconnection_change", args=[crm.pk])
    response = admin_client.post(url, {"name": crm.name, "api_url": crm.api_url, "account_id": "NEWACC", "secret_key": ""})
    assert response.status_code == 302
    crm.refresh_from_db()
    assert crm.account_id == "NEWACC" and crm.secret_key == "KEEP-ME-SECRET"
    response = admin_client.post(url, {"name": crm.name, "api_url": crm.api_url, "account_id": "NEWACC", "secret_key": "NEW-SECRET"})
    crm.refresh_from_db()
    assert crm.secret_key == "NEW-SECRET"
