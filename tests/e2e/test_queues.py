"""Queues by kind of work on real processes (issue 12): real `celery worker` processes, each on its own
queue (-Q), the web process and the CLI queueing through the product's routing, on the real Redis and
PostgreSQL of `make test`, the sandbox over real HTTP.

- A backfill queued with `leadsync sync --queue` is split in parts (one per owner and lead type) that two
  workers share (one on `sync`, one started without -Q, as before the queues), and every lead reaches
  the CRM exactly once.
- While the only `sync` worker is held inside a backfill (the sandbox CRM holds its call's answer), a
  lead notification POSTed to the webhook is routed to `webhooks` and handled by that queue's worker
  within seconds.

No sleeps: every wait polls a condition, with a deadline."""

import hashlib
import hmac
import json
import os
import time

import pytest
import redis
import requests

from tests.e2e.worker_stack import Stack, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

CLIENT_SECRET = "kills-client-secret"  # the stack's LINKEDIN_CLIENT_SECRET
WITHIN_SECONDS = 15  # "within seconds": the notification's whole round trip, on a busy 2-core machine


@pytest.fixture(scope="module")
def stack(postgres_url, redis_url, tmp_path_factory):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs once, in the PostgreSQL pass of make test (its processes have their own database)")
    stack = Stack(tmp_path_factory.mktemp("queues"), postgres_url=postgres_url, redis_url=redis_url,
                  lock_ttl=30, page_size=15, batch_size=15)
    redis.Redis.from_url(stack.broker).flushdb()  # nothing left over in the queues by another test's stack
    try:
        # Every other published event form enabled too: several integrations of the member's organizations.
        forms = [r[0] for r in stack.rows(
            """SELECT f.linkedin_id FROM connectors_leadform f WHERE f.event_id IS NOT NULL
               AND f.id NOT IN (SELECT form_id FROM mappings_integration) ORDER BY f.linkedin_id""")]
        for form in forms:
            stack.manage("leadsync", "enable", form, "--crm", "crm")
        yield stack
    finally:
        stack.close()


def integrations(stack):
    """{integration id: (form id, owner urn, lead types)} of every integration."""
    return {pk: (form, owner, tuple(types)) for pk, form, owner, types in stack.rows(
        """SELECT i.id, f.linkedin_id, o.urn, f.lead_types FROM mappings_integration i
           JOIN connectors_leadform f ON f.id = i.form_id JOIN connectors_linkedinowner o ON o.id = f.owner_id""")}


def submit(stack, form, count):
    response = requests.post(f"{stack.url}/sandbox/linkedin/_leads", json={"form": int(form), "count": count},
                             timeout=60)
    assert response.status_code == 201, response.text
    return response.json()["created"]


def sync_group_tasks_done(worker):
    return worker.log.read_text(errors="replace").count("Task leads.sync_group[")


def test_a_queued_backfill_is_shared_by_two_workers_and_brings_every_lead_once(stack):
    known = integrations(stack)
    parts_expected = {(owner, types) for _, owner, types in known.values()}
    assert len(parts_expected) >= 2, known
    for form, _, _ in known.values():
        submit(stack, form, 20)
    # One worker on the sync queue only, one started the old way, without -Q: it consumes every queue.
    workers = [stack.worker("sync-a", queues=["sync"]), stack.worker("every-queue")]
    for worker in workers:
        worker.wait_ready()

    queued = json.loads(stack.manage("leadsync", "sync", "--days", "90", "--queue", "--json").stdout)
    assert len(queued["parts"]) == len(parts_expected)
    assert sorted(pk for part in queued["parts"] for pk in part["integrations"]) == sorted(known)

    def all_done():
        states = stack.rows("SELECT state FROM leads_syncrun WHERE trigger = 'backfill'")
        return len(states) == len(known) and all(s[0] != "running" for s in states)

    wait_for("every part's runs", all_done, timeout=180, on_timeout=lambda: "\n".join(w.tail() for w in workers))
    assert {r[0] for r in stack.rows("SELECT state FROM leads_syncrun WHERE trigger = 'backfill'")} == {"succeeded"}
    wait_for("both workers to log their parts",
             lambda: sum(sync_group_tasks_done(w) for w in workers) >= len(parts_expected))
    assert all(sync_group_tasks_done(w) >= 1 for w in workers), "each sync worker ran a part of the backfill"

    on_linkedin = {r[0] for r in stack.rows("SELECT id FROM sandbox_linkedin_lead")}
    stored = [r[0] for r in stack.rows("SELECT linkedin_id FROM leads_lead")]
    assert len(stored) == len(set(stored)) and set(stored) == on_linkedin, "every lead stored, once"
    assert {r[0] for r in stack.rows("SELECT DISTINCT state FROM leads_lead")} == {"synced"}
    in_crm = [r[0] for r in stack.rows("SELECT email_lower FROM sandbox_crm_crmlead WHERE is_active")]
    emails = {r[0] for r in stack.rows("SELECT DISTINCT lower(email) FROM leads_lead")}
    assert len(in_crm) == len(set(in_crm)) and set(in_crm) == emails, "every lead in the CRM exactly once"
    for worker in workers:
        worker.stop()


def signed_notification(lead):
    body = {"type": "LEAD_ACTION", "leadGenFormResponse": f"urn:li:leadGenFormResponse:{lead['id']}",
            "leadGenForm": lead.get("versionedLeadGenFormUrn") or lead["form"], "owner": lead["owner"],
            "leadType": lead["leadType"], "leadAction": "CREATED", "occurredAt": int(time.time() * 1000)}
    if lead.get("associatedEntity"):
        body["associatedEntity"] = lead["associatedEntity"]
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, hmac.new(CLIENT_SECRET.encode(), raw, hashlib.sha256).hexdigest()


def test_a_notification_is_handled_within_seconds_while_a_backfill_holds_the_sync_worker(stack):
    known = integrations(stack)
    integration = stack.facts["integration"]
    form = known[integration][0]
    submit(stack, form, 45)
    sync = stack.worker("sync-held", queues=["sync"])
    hooks = stack.worker("hooks", queues=["webhooks"])
    sync.wait_ready()
    hooks.wait_ready()
    call = stack.value("SELECT coalesce(max(id), 0) FROM sandbox_crm_crmcall")
    stack.crm_faults(hold_answer_of_call=1)  # the backfill's first CRM call does its work, then holds its answer
    run = stack.value("SELECT coalesce(max(id), 0) FROM leads_syncrun")
    with stack.celery.connection_for_write(stack.broker) as connection:
        stack.celery.send_task("leads.sync_integration", args=[integration], kwargs={"trigger": "backfill", "days": 90},
                               queue="sync", connection=connection)
    wait_for("the backfill to be held in a CRM call", lambda: stack.value(
        "SELECT count(*) FROM sandbox_crm_crmcall WHERE id > %s AND fault = 'hold_answer_of_call'", call),
        on_timeout=sync.tail)

    # A new lead on LinkedIn, and its notification to the webhook, as LinkedIn sends it.
    lead = submit(stack, form, 1)[0]
    raw, signature = signed_notification(lead)
    started = time.monotonic()
    response = requests.post(f"{stack.url}/linkedin/webhook/", data=raw, timeout=10,
                             headers={"Content-Type": "application/json", "X-LI-Signature": signature})
    assert response.status_code == 200 and response.json()["status"] == "accepted", response.text
    state = wait_for("the notification to be processed", lambda: (stack.rows(
        "SELECT state FROM leads_leadnotification WHERE lead_id = %s AND state <> 'received'", lead["id"]) or [[""]])[0][0],
        timeout=WITHIN_SECONDS, on_timeout=lambda: hooks.tail() + "\n" + sync.tail())
    elapsed = time.monotonic() - started
    assert state == "processed", state
    assert stack.value("SELECT count(*) FROM leads_lead WHERE linkedin_id = %s", lead["id"]) == 1
    # ... while the backfill still runs: its run is open and its worker still in the held call.
    assert stack.value("SELECT state FROM leads_syncrun WHERE id > %s AND trigger = 'backfill'", run) == "running"
    assert "Task leads.process_lead_notification[" in hooks.log.read_text(errors="replace")
    assert "Task leads.process_lead_notification[" not in sync.log.read_text(errors="replace")
    assert elapsed < WITHIN_SECONDS
