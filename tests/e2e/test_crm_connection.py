"""`leadsync crm add` against the sandbox CRM over real HTTP."""

import pytest

from connectors.models import CrmConnection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_crm_add_checks_credentials_and_loads_the_field_catalogue(cli, crm_account):
    result = cli("crm", "add", "main", "--account-id", crm_account["account_id"],
                 "--secret-key", crm_account["secret_key"], "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["ok"] and data["status"] == "active" and data["fields"] >= 20
    connection = CrmConnection.objects.get(name="main")
    names = set(connection.fields.values_list("system_name", flat=True))
    assert {"emailAddress", "firstName", "lastName", "companyName", "title"} <= names
    assert connection.fields.filter(is_custom=True).exists()
    assert crm_account["secret_key"] not in result.out + result.err


def test_wrong_crm_credentials_are_a_clear_error_and_change_nothing(cli, crm_account):
    result = cli("crm", "add", "main", "--account-id", crm_account["account_id"], "--secret-key", "wrong-key", "--json")
    assert result.code == 1
    assert "rejected the account ID / secret key" in result.json["error"]
    assert "wrong-key" not in result.out + result.err
    assert not CrmConnection.objects.exists()


def test_crm_add_again_updates_the_same_connection(cli, crm_account):
    for _ in range(2):
        assert cli("crm", "add", "main", "--account-id", crm_account["account_id"],
                   "--secret-key", crm_account["secret_key"]).code == 0
    assert CrmConnection.objects.count() == 1


def test_unreachable_crm_is_an_error(cli):
    result = cli("crm", "add", "main", "--account-id", "A", "--secret-key", "S",
                 "--api-url", "http://127.0.0.1:9/pubapi/v1.2/", "--json")
    assert result.code == 1 and "could not connect" in result.json["error"]
    assert not CrmConnection.objects.exists()


def test_adding_a_crm_in_the_admin_checks_the_credentials_and_loads_the_catalogue(admin_client, crm_account, settings):
    from django.urls import reverse

    url = reverse("admin:connectors_crmconnection_add")
    assert settings.LEADGEN_CRM_API_URL in admin_client.get(url).content.decode(), "the endpoint is filled in"
    form = {"name": "main", "api_url": settings.LEADGEN_CRM_API_URL, "account_id": crm_account["account_id"]}

    refused = admin_client.post(url, {**form, "secret_key": "wrong-key"})
    page = refused.content.decode()
    assert refused.status_code == 200 and "The CRM refused this account ID and secret key" in page
    assert "wrong-key" not in page and not CrmConnection.objects.exists()

    saved = admin_client.post(url, {**form, "secret_key": crm_account["secret_key"]}, follow=True)
    assert "the credentials work" in saved.content.decode()
    connection = CrmConnection.objects.get(name="main")
    assert connection.status == "active" and connection.fields.filter(system_name="emailAddress").exists()
