"""Scale-out on real processes (issue 12): gunicorn serving the product and the sandbox, one `celery
beat` and three `celery worker` processes (two on the `sync` queue and the rest, one on `webhooks`),
on the real PostgreSQL and Redis of `make test`, everything over loopback HTTP and the broker.

The sandbox holds 200 integrations (scale forms over 10 owners) into 20 CRM accounts, each account
limited to 10 calls a second as the real CRM is (error 107 beyond). Beat's integration entries are
shortened to every 32 seconds (integrations take whole minutes; an operator may edit the entry) and
new leads arrive at every interval. After several intervals, with a backfill running through them:

- every lead LinkedIn has is stored once and is in its CRM account exactly once (per e-mail);
- the work was spread: each sync worker ran syncs that created leads, the webhooks worker the
  notification (hostnames from the result backend);
- a lead notification was processed within seconds while a long backfill held a sync worker;
- the sandbox CRM refused no call with 107 and no account received more than 10 calls in a second:
  the limit held across the fleet (the Redis limiter), also through a burst in which both sync
  workers push 10 calls each into one account together. With LEADSYNC_TEST_FLEET_LIMITS=off (each
  worker keeping the limit alone, as before the fleet limiter) the same run draws 107s (17 in one run).

LEADSYNC_SCALE_INTEGRATIONS / _ACCOUNTS / _OWNERS change the size (200 / 20 / 10). No sleeps: every
wait polls a condition, with a deadline."""

import os
import random
import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from tests.e2e.fleet_stack import SLOW_ACCOUNT, Fleet
from tests.e2e.worker_stack import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

INTEGRATIONS = int(os.environ.get("LEADSYNC_SCALE_INTEGRATIONS", 200))
ACCOUNTS = int(os.environ.get("LEADSYNC_SCALE_ACCOUNTS", 20))
OWNERS = int(os.environ.get("LEADSYNC_SCALE_OWNERS", 10))
EVERY = 32            # seconds between two ticks of an integration's beat entry (half a minute is the
#                       product's "a sibling's tick already pulled it" window for a 1-minute integration)
INTERVALS = 3         # beat intervals the test runs through
NEW_PER_INTERVAL = 40  # leads submitted at each interval, on forms picked at random (seeded)
BACKFILL_LEADS = 300  # the backfill's leads: 15 CRM calls of 20, each answered in a second
BURST = 200           # leads into each of two integrations of one CRM account and different owners, at once:
#                       two workers each pushing 10 calls into that account together (over 10 a second
#                       between them without the fleet limiter)
WITHIN_SECONDS = 15   # "within seconds" for a notification's round trip, on a busy 2-core machine


@pytest.fixture(scope="module")
def fleet(postgres_url, redis_url, tmp_path_factory):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs once, in the PostgreSQL pass of make test (its processes have their own database)")
    fleet = Fleet(tmp_path_factory.mktemp("fleet"), postgres_url=postgres_url, redis_url=redis_url,
                  owners=OWNERS, forms=INTEGRATIONS, accounts=ACCOUNTS, form_leads=0, every_seconds=EVERY,
                  batch_size=20, slow_account=True, slow_answer_ms=1000)
    try:
        yield fleet
    finally:
        fleet.close()


def first_two_of_one_account(integrations):
    """Two integrations into one CRM account whose forms have different owners (forms go round robin
    over the owners, so consecutive forms have different ones)."""
    by_account = defaultdict(list)
    for pk, row in sorted(integrations.items(), key=lambda item: item[1]["form"]):
        by_account[row["account"]].append(pk)
    first = next(pks for pks in by_account.values() if len(pks) >= 2)
    return first[:2]


def busiest_second(times):
    """The most calls within any window of just under one second (the sandbox's window for its limit)."""
    times, window, most, first = sorted(times), timedelta(microseconds=999_999), 0, 0
    for last, at in enumerate(times):
        while at - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_a_fleet_of_three_workers_and_one_beat_brings_every_lead_once_within_the_crm_limit(fleet):
    facts = fleet.facts
    integrations = {int(pk): row for pk, row in facts["integrations"].items()}
    assert len(integrations) == INTEGRATIONS and facts["owners"] == OWNERS
    sync_queues = ["sync", "celery", "push", "maintenance"]
    workers = [fleet.worker("sync-1", sync_queues), fleet.worker("sync-2", sync_queues),
               fleet.worker("hooks", ["webhooks"])]
    for worker in workers:
        worker.wait_ready()
    tails = lambda: "\n".join(f"--- {w.name}\n{w.tail(15)}" for w in workers)  # noqa: E731
    rng = random.Random(12)
    forms = [row["form"] for row in integrations.values()]
    for form in rng.sample(forms, NEW_PER_INTERVAL):  # waiting before the first tick
        fleet.submit(form)
    fleet.start_beat()

    notified = None
    for interval in range(1, INTERVALS + 1):
        wait_for(f"beat's tick {interval} of every integration", lambda: fleet.beat_sent() >= interval * INTEGRATIONS,
                 timeout=EVERY * 3, on_timeout=lambda: fleet.beat_log.read_text()[-3000:] + tails())
        for form in rng.sample(forms, NEW_PER_INTERVAL):
            fleet.submit(form)
        if interval == 2:
            burst = first_two_of_one_account(integrations)
            for pk in burst:
                fleet.submit(integrations[pk]["form"], BURST)
        if interval == 1:
            # A long backfill (an account whose every answer takes a second) holds one sync worker ...
            slow = facts["slow"]
            fleet.submit(slow["form"], BACKFILL_LEADS)
            backfill = fleet.send("leads.sync_integration", slow["integration"], trigger="backfill", days=90,
                                  queue="sync")
            wait_for("the backfill to be pushing", lambda: fleet.value(
                "SELECT count(*) FROM sandbox_crm_crmcall WHERE account_ref = %s AND method = 'createLeads'",
                SLOW_ACCOUNT), timeout=120, on_timeout=tails)
            # ... while a new lead's notification arrives: the webhooks worker serves it within seconds.
            lead = fleet.submit(rng.choice(forms))[0]
            started = time.monotonic()
            fleet.notify(lead)
            state = wait_for("the notification to be processed", lambda: (fleet.rows(
                "SELECT state FROM leads_leadnotification WHERE lead_id = %s AND state <> 'received'",
                lead["id"]) or [[""]])[0][0], timeout=WITHIN_SECONDS, on_timeout=tails)
            notified = time.monotonic() - started
            assert state == "processed", state
            assert fleet.value("SELECT count(*) FROM leads_lead WHERE linkedin_id = %s", lead["id"]) == 1
            assert fleet.value("SELECT state FROM leads_syncrun WHERE integration_id = %s AND trigger = 'backfill'",
                               slow["integration"]) == "running", "the backfill still runs"

    # Every lead LinkedIn has, stored once and synced, once the last interval's leads are through.
    def on_linkedin():
        return {r[0] for r in fleet.rows("SELECT id FROM sandbox_linkedin_lead WHERE NOT test_lead")}

    def all_synced():
        stored = dict(fleet.rows("SELECT linkedin_id, state FROM leads_lead"))
        return set(stored) == on_linkedin() and set(stored.values()) == {"synced"}

    wait_for("every lead synced", all_synced, timeout=EVERY * 4, on_timeout=tails)
    fleet.stop_beat()
    assert backfill.get(timeout=120)["state"] == "succeeded"
    stored = [r[0] for r in fleet.rows("SELECT linkedin_id FROM leads_lead")]
    assert len(stored) == len(set(stored)) == len(on_linkedin())
    expected = INTERVALS * NEW_PER_INTERVAL + NEW_PER_INTERVAL + BACKFILL_LEADS + 1 + 2 * BURST
    assert len(stored) == expected

    # In the CRM exactly once: per account, the e-mails of the leads of its integrations, each once.
    per_account = defaultdict(list)
    for account, email in fleet.rows(
            """SELECT a.account_id, l.email_lower FROM sandbox_crm_crmlead l
               JOIN sandbox_crm_crmaccount a ON a.id = l.account_id WHERE l.is_active"""):
        per_account[account].append(email)
    wanted = defaultdict(set)
    for account, email in fleet.rows(
            """SELECT c.account_id, lower(l.email) FROM leads_lead l JOIN mappings_integration i
               ON i.id = l.integration_id JOIN connectors_crmconnection c ON c.id = i.crm_connection_id"""):
        wanted[account].add(email)
    assert {a: sorted(e) for a, e in per_account.items()} == {a: sorted(e) for a, e in wanted.items()}
    twice = fleet.value("SELECT count(*) FROM sandbox_crm_crmcall WHERE method = 'createLeads' AND failed_count > 0")
    assert twice == 0, "no lead was sent to createLeads again once the CRM had it"

    # The CRM's limit held across the fleet: no 107, never more than 10 calls a second into one account.
    assert fleet.value("SELECT count(*) FROM sandbox_crm_crmcall WHERE error_code = 107") == 0
    calls = defaultdict(list)
    for account, at in fleet.rows("SELECT account_ref, created_at FROM sandbox_crm_crmcall"):
        calls[account].append(at)
    assert max(busiest_second(times) for times in calls.values()) <= 10

    # Several intervals: every integration ticked INTERVALS times at least, each tick a scheduled run or
    # nothing to do because a sibling's tick of that interval had pulled it.
    ticks = fleet.value("SELECT count(*) FROM leads_syncrun WHERE trigger = 'schedule' AND state = 'succeeded'")
    assert fleet.beat_sent() >= INTERVALS * INTEGRATIONS and ticks >= INTERVALS * OWNERS
    assert fleet.rows("SELECT state, trigger, error FROM leads_syncrun WHERE state <> 'succeeded'") == []

    # Spread over the workers: who ran the runs that created leads (SyncRun.task_id, the result backend).
    done_by = defaultdict(Counter)
    for task_id, trigger, created in fleet.rows(
            "SELECT task_id, trigger, sum(created) FROM leads_syncrun WHERE created > 0 GROUP BY task_id, trigger"):
        done_by[trigger][fleet.task_worker(task_id) or task_id] += created
    done_by = {trigger: dict(by) for trigger, by in done_by.items()}
    assert set(done_by["schedule"]) == {"sync-1@fleet", "sync-2@fleet"}, done_by
    assert set(done_by["backfill"]) <= {"sync-1@fleet", "sync-2@fleet"}, done_by
    assert "Task leads.process_lead_notification[" in workers[2].log.read_text(errors="replace")
    assert notified < WITHIN_SECONDS
    spans = fleet.rows("SELECT started_at, finished_at FROM leads_syncrun WHERE integration_id = ANY(%s) "
                       "AND created >= %s", list(burst), BURST)
    overlap = len(spans) == 2 and max(s[0] for s in spans) < min(s[1] for s in spans)
    print(f"\nscale-out: burst pushes overlapped: {overlap};"
          f" busiest second {max(busiest_second(times) for times in calls.values())};"
          f" 107s {fleet.value('SELECT count(*) FROM sandbox_crm_crmcall WHERE error_code = 107')}")
    print(f"\nscale-out: {len(stored)} leads, created by worker {dict(done_by)}, notification in {notified:.1f} s, "
          f"{sum(map(len, calls.values()))} CRM calls")
