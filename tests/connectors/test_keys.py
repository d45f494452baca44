"""`leadsync keys rotate`: every stored secret re-encrypted under the first key, so an old key can go."""

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from connectors import crypto
from connectors.models import CrmConnection, LinkedInConnection
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def stored(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_re_encrypts_every_secret_under_the_first_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    li = factories.linkedin_connection(access_token="AQV-rotate-me", refresh_token="AQW-rotate-me")
    crm = factories.crm_connection(secret_key="CRM-rotate-me")
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"

    out = StringIO()
    call_command("leadsync", "keys", "rotate", "--json", stdout=out, stderr=StringIO())

    data = json.loads(out.getvalue())
    assert data["ok"] and sum(data["reencrypted"].values()) == 2
    assert "rotate-me" not in out.getvalue()
    settings.FIELD_ENCRYPTION_KEY = new  # the old key is gone: everything still reads
    assert LinkedInConnection.objects.get(pk=li.pk).access_token == "AQV-rotate-me"
    assert LinkedInConnection.objects.get(pk=li.pk).refresh_token == "AQW-rotate-me"
    assert CrmConnection.objects.get(pk=crm.pk).secret_key == "CRM-rotate-me"
    assert crypto.decrypt(stored(CrmConnection._meta.db_table, "secret_key", crm.pk)) == "CRM-rotate-me"


def test_a_secret_no_key_can_read_stops_the_rotation_with_a_sentence(settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    factories.crm_connection(secret_key="CRM-lost")
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()  # the old key was dropped too soon
    with pytest.raises(SystemExit) as exc:
        call_command("leadsync", "keys", "rotate", stdout=StringIO(), stderr=StringIO())
    assert exc.value.code == 1
