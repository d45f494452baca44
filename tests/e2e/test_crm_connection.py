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
