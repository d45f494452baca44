"""The CRM's per-second limit held across processes: four worker processes push leads into one
sandbox CRM account (its limit 10 calls a second, served over real HTTP by the live server), each
through its own `CrmClient`. Under the Redis limiter the sandbox refuses none of their calls
(error 107) and no second of its call log holds more than 10; with each process keeping the limit
alone, as before the fleet limiter, the same push draws 107s. Needs Redis (LEADSYNC_TEST_REDIS_URL)."""

import json
import subprocess
import sys
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import redis as redis_py
from django.core.management import call_command

from sandbox.crm.models import CrmCall, CrmLead

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, SECRET = "FLEET-ACCOUNT", "fleet-secret-key-123"
WORKERS, CALLS = 4, 15


@pytest.fixture
def fleet_account(sandbox):
    call_command("sandbox_crm_account", "--account-id", ACCOUNT, "--secret-key", SECRET,
                 "--per-second-limit", "10", stdout=StringIO())
    return f"{sandbox.url}/sandbox/crm/pubapi/v1.2/"


@pytest.fixture
def prefix(redis_url):
    prefix = f"test-fleet:{uuid.uuid4().hex}:"
    yield prefix
    client = redis_py.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


def push_from_processes(api_url, mode, redis_url="", prefix=""):
    """WORKERS processes each make CALLS createLeads calls, all starting together."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "e2e" / "crm_pusher.py"), api_url, ACCOUNT, SECRET,
             str(worker), str(CALLS), mode, redis_url, prefix],
            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for worker in range(WORKERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def busiest_second(calls):
    """The most calls the sandbox received within any window of just under one second (its own
    window for the limit)."""
    times = sorted(calls.values_list("created_at", flat=True))
    window, most, first = timedelta(microseconds=999_999), 0, 0
    for last, at in enumerate(times):
        while at - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_four_processes_under_the_redis_limiter_draw_no_107(fleet_account, redis_url, prefix):
    reports = push_from_processes(fleet_account, "redis", redis_url, prefix)

    calls = CrmCall.objects.filter(account_ref=ACCOUNT)
    assert calls.count() == WORKERS * CALLS, "one call per lead: nothing refused, nothing retried"
    assert not calls.filter(error_code=107).exists()
    assert busiest_second(calls) <= 10
    assert [r["refused"] for r in reports] == [0] * WORKERS
    assert sum(r["created"] for r in reports) == WORKERS * CALLS
    assert CrmLead.objects.filter(account__account_id=ACCOUNT).count() == WORKERS * CALLS
    # The work was shared, not done by one process after the other: every worker's calls are spread
    # over the whole push.
    spans = [calls.filter(request__params__objects__0__firstName=f"Worker {w}") for w in range(WORKERS)]
    starts = [s.earliest("created_at").created_at for s in spans]
    ends = [s.latest("created_at").created_at for s in spans]
    assert max(starts) < min(ends)


def test_the_same_push_with_each_process_keeping_the_limit_alone_draws_107(fleet_account):
    reports = push_from_processes(fleet_account, "local")

    calls = CrmCall.objects.filter(account_ref=ACCOUNT)
    refused = calls.filter(error_code=107).count()
    assert refused > 0 and refused == sum(r["refused"] for r in reports)
    assert busiest_second(calls) > 10


def test_a_sync_draws_on_the_limits_in_redis_when_they_are_configured(cli, event_integration, settings, redis_url):
    """The product's own path: `leadsync sync` builds its CRM client in connectors/clients.py, with the
    limiter the settings name. Every CRM call of the sync is counted in Redis, under a hashed key."""
    from django.utils import timezone

    from connectors.clients import crm_client
    from connectors.ratelimit import limit_key

    settings.LEADSYNC_RATE_LIMIT_REDIS_URL = redis_url
    client = crm_client(event_integration.crm_connection)
    key = limit_key("crm", client.safe_url, event_integration.crm_connection.account_id)
    redis = redis_py.Redis.from_url(redis_url)
    prefix = client.limiter.prefix + key
    since = timezone.now()
    try:
        result = cli("sync", "--days", "90", "--json")
        assert result.code == 0, result.err
        made = CrmCall.objects.filter(account_ref=event_integration.crm_connection.account_id, created_at__gte=since)
        assert made.count() > 0
        (day,) = list(redis.scan_iter(match=prefix + ":day:*"))
        assert int(redis.get(day)) == made.count()
        assert redis.zcard(prefix + ":window") > 0
        account = event_integration.crm_connection.account_id
        assert not [k for k in redis.scan_iter(match="leadsync:ratelimit:*") if account.encode() in k]
    finally:
        keys = list(redis.scan_iter(match=prefix + "*"))
        if keys:
            redis.delete(*keys)
