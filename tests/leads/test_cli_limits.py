"""`leadsync crm limits [NAME] [--clear]`: what the fleet's shared limiter holds for each CRM account
(Redis: LEADSYNC_TEST_REDIS_URL), and lifting a daily pause."""

import json
import uuid
from io import StringIO

import pytest
import redis as redis_py
from django.core.management import CommandError, call_command

from connectors.clients import crm_client, rate_limiter
from connectors.ratelimit import limit_key
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("leadsync", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def shared(settings, redis_url):
    settings.LEADSYNC_RATE_LIMIT_REDIS_URL = redis_url
    settings.LEADSYNC_RATE_LIMIT_MAX_WAIT = 1.5  # a configuration of its own: a limiter of its own
    yield rate_limiter()
    client = redis_py.Redis.from_url(redis_url)
    for connection_key in list(client.scan_iter(match=f"{rate_limiter().prefix}crm:*")):
        client.delete(connection_key)


def key_of(connection):
    return limit_key("crm", crm_client(connection).safe_url, connection.account_id)


@pytest.mark.redis
def test_limits_show_each_accounts_calls_and_pause_and_clear_lifts_the_pause(shared):
    busy = factories.crm_connection(name="busy", account_id=f"BUSY-{uuid.uuid4().hex[:8]}")
    calm = factories.crm_connection(name="calm", account_id=f"CALM-{uuid.uuid4().hex[:8]}")
    for _ in range(3):
        with shared.slot(key_of(busy), rate=10, daily=50_000):
            pass
    shared.exhaust(key_of(busy), 3600)

    code, out, _ = run("crm", "limits", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)["connections"]}
    assert rows["busy"]["shared"] and rows["busy"]["calls_last_window"] == 3 and rows["busy"]["calls_today"] == 3
    assert 3500 < rows["busy"]["paused_for"] <= 3600
    assert rows["calm"]["calls_today"] == 0 and rows["calm"]["paused_for"] == 0
    assert busy.account_id not in out and busy.secret_key not in out

    code, out, _ = run("crm", "limits", "busy")
    assert code == 0 and "busy: 3 calls this second, 3 today; paused after a daily limit for 60 more minutes" in out

    code, out, _ = run("crm", "limits", "busy", "--clear", "--json")
    assert code == 0
    [row] = json.loads(out)["connections"]
    assert row["paused_for"] == 0 and row["calls_today"] == 0


def test_without_redis_there_is_nothing_shared_to_show_or_clear(settings):
    settings.LEADSYNC_RATE_LIMIT_REDIS_URL = ""
    factories.crm_connection(name="main")
    code, out, _ = run("crm", "limits", "--json")
    assert code == 0 and json.loads(out)["connections"] == [{"name": "main", "shared": False}]
    code, out, err = run("crm", "limits", "main", "--clear", "--json")
    assert code == 1 and "kept per process" in json.loads(out + err)["error"]


def test_an_unreachable_limits_redis_is_a_clear_error(settings):
    settings.LEADSYNC_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:9/0"
    factories.crm_connection(name="main")
    code, out, err = run("crm", "limits", "--json")
    assert code == 1
    assert json.loads(out + err) == {"ok": False, "error": "The rate limits' Redis cannot be reached (ConnectionError)."}


@pytest.mark.parametrize("args, message", [
    (("crm", "limits", "--clear"), "--clear needs the name of one CRM connection"),
    (("crm", "limits", "nobody"), "No CRM connection named 'nobody'"),
])
def test_bad_usage_changes_nothing(args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("leadsync", *args, stdout=StringIO(), stderr=StringIO())
    assert excinfo.value.returncode == 2 and message in str(excinfo.value)
