"""Tokens and secrets are encrypted at rest: the database never holds them in clear."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.db import connection

from connectors import crypto
from connectors.models import CrmConnection, LinkedInConnection
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def raw_column(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_linkedin_tokens_are_not_in_the_database_in_clear():
    conn = factories.linkedin_connection(access_token="AQV-very-secret-access", refresh_token="AQW-very-secret-refresh")
    stored_access = raw_column("connectors_linkedinconnection", "access_token", conn.pk)
    stored_refresh = raw_column("connectors_linkedinconnection", "refresh_token", conn.pk)
    assert "very-secret" not in stored_access and "very-secret" not in stored_refresh
    assert stored_access.startswith("fernet:")
    reloaded = LinkedInConnection.objects.get(pk=conn.pk)
    assert reloaded.access_token == "AQV-very-secret-access"
    assert reloaded.refresh_token == "AQW-very-secret-refresh"


def test_crm_secret_key_is_not_in_the_database_in_clear():
    crm = factories.crm_connection(secret_key="CRM-SECRET-123")
    assert "CRM-SECRET-123" not in raw_column("connectors_crmconnection", "secret_key", crm.pk)
    assert CrmConnection.objects.get(pk=crm.pk).secret_key == "CRM-SECRET-123"


def test_no_secret_anywhere_in_a_database_dump():
    factories.linkedin_connection(access_token="AQV-dump-check-token")
    factories.crm_connection(secret_key="CRM-dump-check-secret")
    with connection.cursor() as cursor:
        for table in ("connectors_linkedinconnection", "connectors_crmconnection"):
            cursor.execute(f"SELECT * FROM {table}")
            dump = repr(cursor.fetchall())
            assert "dump-check" not in dump


def test_same_token_encrypts_differently_each_time():
    assert crypto.encrypt("abc") != crypto.encrypt("abc")


def test_empty_refresh_token_stays_empty():
    conn = factories.linkedin_connection(refresh_token="")
    assert raw_column("connectors_linkedinconnection", "refresh_token", conn.pk) == ""


def test_filtering_on_an_encrypted_field_is_refused():
    with pytest.raises(FieldError):
        list(LinkedInConnection.objects.filter(access_token="x"))


def test_keys_rotate_old_values_stay_readable(settings):
    conn = factories.linkedin_connection(access_token="AQV-rotate-me")
    old_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old_key
    conn.save()  # re-encrypted with the old key
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode() + "," + old_key
    assert LinkedInConnection.objects.get(pk=conn.pk).access_token == "AQV-rotate-me"


def test_unknown_key_is_a_clear_error(settings):
    conn = factories.linkedin_connection(access_token="AQV-lost-key")
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    conn.save()
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.DecryptionError, match="cannot be decrypted with FIELD_ENCRYPTION_KEY"):
        LinkedInConnection.objects.get(pk=conn.pk)
