"""Crash safety with real processes (issue 9): a real Celery worker on the real Redis and PostgreSQL
of `make test`, syncing a form's leads from the sandbox over real HTTP, SIGKILLed again and again at
points a seeded random choice picks among conditions the test watches for (never a timed sleep):

- during the pull, once k pages are stored;
- between store and push, once every lead of the sync is stored;
- during the push, once m batches are recorded;
- after the CRM did a batch's work and before its answer was recorded (the sandbox holds the answer
  of the m-th call: `hold_answer_of_call`).

Either the pool child dies (the worker gives the task back at once: acks_late with
task_reject_on_worker_lost, and the task given back waits out its dead sync's lease and does the work)
or the whole worker does and is started again (its task stays with Redis until the visibility timeout;
the next sync, beat's next tick, does the work). After every kill: the
lease left on the integration is at most LEADSYNC_LOCK_TTL_SECONDS (two minutes in production, a few
seconds here), the watermark is never ahead of the stored leads, and the next sync, queued as beat
would, succeeds; then every lead is in the CRM exactly once, none missing, none sent to createLeads
again, no run left "running".

`make test` kills at 20 points (LEADSYNC_KILLS), `make soak` at 100 or more (LEADSYNC_SOAK_KILLS).
"""

import os
import random

import pytest

from tests.e2e.worker_stack import Stack, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

LOCK_TTL = 2          # seconds; production: 120
PAGE, BATCH = 15, 15  # LinkedIn page size, CRM batch size
FIRST_SYNC = 150      # leads of the first, large sync: 10 pages, 10 batches
EACH_ROUND = 45       # leads LinkedIn gets between two kills: 3 pages, 3 batches
KILLS = int(os.environ.get("LEADSYNC_SOAK_KILLS") or os.environ.get("LEADSYNC_KILLS") or 20)
SEED = int(os.environ.get("LEADSYNC_KILL_SEED", "9"))


@pytest.fixture(scope="module")
def stack(postgres_url, redis_url, tmp_path_factory):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs once, in the PostgreSQL pass of make test (its processes have their own database)")
    stack = Stack(tmp_path_factory.mktemp("kills"), postgres_url=postgres_url, redis_url=redis_url,
                  lock_ttl=LOCK_TTL, page_size=PAGE, batch_size=BATCH)
    try:
        yield stack
    finally:
        stack.close()


# --- the invariants ------------------------------------------------------------------------------

def assert_watermark_not_ahead_of_the_stored_leads(stack):
    missing = stack.value(
        """SELECT count(*) FROM sandbox_linkedin_lead l
           JOIN sandbox_linkedin_leadformversion v ON v.id = l.form_version_id
           JOIN mappings_integration i ON i.id = %s
           WHERE v.form_id = %s AND i.watermark IS NOT NULL AND l.submitted_at < i.watermark
             AND l.id NOT IN (SELECT linkedin_id FROM leads_lead WHERE integration_id = i.id)""",
        stack.facts["integration"], stack.facts["form"])
    assert missing == 0, f"the watermark passed {missing} leads that are not stored"


def assert_every_lead_in_the_crm_exactly_once(stack):
    integration, form = stack.facts["integration"], stack.facts["form"]
    on_linkedin = {r[0] for r in stack.rows(
        """SELECT l.id FROM sandbox_linkedin_lead l JOIN sandbox_linkedin_leadformversion v
           ON v.id = l.form_version_id WHERE v.form_id = %s""", form)}
    stored = dict(stack.rows("SELECT linkedin_id, state FROM leads_lead WHERE integration_id = %s", integration))
    assert set(stored) == on_linkedin, "every lead LinkedIn has is stored, once (the id is unique)"
    assert set(stored.values()) == {"synced"}, f"every lead synced: {sorted(set(stored.values()))}"
    emails = {r[0] for r in stack.rows(
        "SELECT DISTINCT lower(email) FROM leads_lead WHERE integration_id = %s", integration)}
    in_crm = [r[0] for r in stack.rows("SELECT email_lower FROM sandbox_crm_crmlead WHERE is_active")]
    assert len(in_crm) == len(set(in_crm)), "no lead twice in the CRM"
    assert set(in_crm) == emails, "every lead in the CRM, none missing"
    refused = stack.value("SELECT count(*) FROM sandbox_crm_crmcall WHERE method = 'createLeads' AND failed_count > 0")
    assert refused == 0, "no lead was ever sent to createLeads again once the CRM had it (no 301 duplicate)"
    assert stack.value("SELECT count(*) FROM leads_syncrun WHERE integration_id = %s AND state = 'running'",
                       integration) == 0, "no run left running"
    assert stack.lease_left() is None, "the lock is free"


# --- the kill points -----------------------------------------------------------------------------

KINDS, TARGETS = ["pull", "stored", "push", "held"], ["child", "worker"]


def kill_plan(rng, kills):
    """Seeded kinds of kill point and what is killed (the pool child or the whole worker): every
    pairing once, in a shuffled order, then random ones."""
    pairs = [(kind, target) for kind in KINDS for target in TARGETS]
    rng.shuffle(pairs)
    return (pairs + [(rng.choice(KINDS), rng.choice(TARGETS)) for _ in range(kills)])[:kills]


def kill_at(rng, kind, new_leads):
    """Which page, batch or CRM call the kill point waits for."""
    pages = batches = new_leads // PAGE
    return {"pull": lambda: rng.randint(1, pages - 1), "stored": lambda: 0,
            "push": lambda: rng.randint(1, batches - 1), "held": lambda: rng.randint(1, batches)}[kind]()


def reached(stack, kind, n, before):
    """The condition of a kill point, observed in the database."""
    if kind == "pull":
        return stack.count_leads() >= before["stored"] + n * PAGE
    if kind == "stored":
        return stack.count_leads() >= before["stored"] + before["new"]
    if kind == "push":
        return stack.count_leads("synced") >= before["synced"] + n * BATCH
    return stack.value("SELECT count(*) FROM sandbox_crm_crmcall WHERE id > %s AND fault = 'hold_answer_of_call'",
                       before["call"])


def test_a_worker_killed_at_seeded_points_loses_no_lead_and_doubles_none(stack):
    rng = random.Random(SEED)
    worker = stack.worker("kills-1")
    worker.wait_ready()
    for round_, (kind, target) in enumerate(kill_plan(rng, KILLS)):
        new_leads = FIRST_SYNC if round_ == 0 else EACH_ROUND
        stack.submit_leads(new_leads)
        n = kill_at(rng, kind, new_leads)
        where = f"kill {round_ + 1}/{KILLS} (seed {SEED}): {kind} {n}, {target}"
        before = {"stored": stack.count_leads(), "synced": stack.count_leads("synced"), "new": new_leads,
                  "call": stack.value("SELECT coalesce(max(id), 0) FROM sandbox_crm_crmcall")}
        if kind == "held":
            stack.crm_faults(hold_answer_of_call=n)
        killed = stack.sync()
        wait_for(where, lambda: reached(stack, kind, n, before), on_timeout=worker.tail)

        if target == "child":
            worker.kill_child()
        else:
            worker.kill()
        lease = stack.lease_left()
        stack.crm_faults(hold_answer_of_call=0)
        if target == "worker":
            worker = stack.worker(f"kills-{round_ + 2}")

        assert lease is None or lease <= LOCK_TTL + 0.5, f"{where}: the dead sync holds {lease:.1f} s of lease"
        assert_watermark_not_ahead_of_the_stored_leads(stack)
        # The next sync can start once the lease is over (two minutes at most in production).
        wait_for(f"{where}: the lease to end", lambda: (stack.lease_left() or -1) < 0, timeout=LOCK_TTL + 30)
        if target == "worker":
            worker.wait_ready()
        else:
            # The worker gave the killed task back; run again, it found its dead sync's lock and
            # tried once more when the lease was over, and did the work itself.
            assert stack.result(killed)["state"] == "succeeded", where
        outcome = stack.result(stack.sync())
        assert outcome["state"] == "succeeded", f"{where}: {outcome}"
        assert_every_lead_in_the_crm_exactly_once(stack)
        assert_watermark_not_ahead_of_the_stored_leads(stack)

    interrupted = stack.value("SELECT count(*) FROM leads_syncrun WHERE error LIKE 'interrupted%%'")
    assert 0 < interrupted <= KILLS, "the runs the kills left running were closed as interrupted"


def test_two_workers_on_one_integration_push_every_lead_once(stack):
    for worker in stack.workers:
        worker.stop()
    first, second = stack.worker("pair-1"), stack.worker("pair-2")
    for worker in (first, second):
        worker.wait_ready()
    stack.submit_leads(EACH_ROUND)
    # Slow CRM answers keep the first sync pushing while the second arrives on the other worker.
    stack.crm_faults(slow_answer_ms=150)
    runs = stack.value("SELECT count(*) FROM leads_syncrun")
    try:
        one = stack.sync("schedule")
        wait_for("the first sync to be running", lambda: stack.value(
            "SELECT count(*) FROM leads_syncrun WHERE state = 'running'"))
        two = stack.sync("schedule")
        outcomes = sorted([stack.result(one)["state"], stack.result(two)["state"]])
    finally:
        stack.crm_faults(slow_answer_ms=0)

    assert outcomes == ["busy", "succeeded"], "one sync pushes, the other is told the integration is busy"
    assert stack.value("SELECT count(*) FROM leads_syncrun") == runs + 1, "the busy one started no run"
    assert_every_lead_in_the_crm_exactly_once(stack)
