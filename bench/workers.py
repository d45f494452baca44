#!/usr/bin/env python
"""Benchmark: one large backlog with 1, 2 and 4 worker processes (issue 12).

    .venv/bin/python bench/workers.py                          # make bench-workers: 5,000 leads
    .venv/bin/python bench/workers.py --leads 20000 --workers 1,2,4,8

Setup (not timed, once): a private PostgreSQL (bench/pg.py) and a private redis-server on loopback, and
the fleet of tests/e2e/fleet_stack.py: gunicorn serving the product and the sandbox, the sandbox seeded
with `--owners O --forms F --form-leads N/F` (the backlog: leads between a day and 30 days old), F
integrations round robin into A sandbox CRM accounts, each limited to 10 calls a second (error 107
beyond) as the real CRM is, LinkedIn and the CRM connected through the CLI. That database is the
template of every run.

Each run (W = 1, 2, 4 …): a fresh copy of the template (`CREATE DATABASE … TEMPLATE`), Redis emptied,
gunicorn, and W `celery worker` processes on the `sync` queue (prefork, concurrency 1 each, as the
Procfile's `-Q sync` workers run, one pool process each), every limit in the one Redis. Timed: from
queueing `leads.sync_integrations` (the 90-day backfill of every integration, split into one
`leads.sync_group` task per owner and lead type, what `leadsync sync --days 90 --queue` sends) until
every lead is synced (polled in SQL). No beat: the backlog is the only work.

Printed, one JSON line per run: workers, leads, parts, wall_s, leads_per_s (end to end: LinkedIn to the
CRM), CRM calls (createLeads and all), the leads in the CRM (one per account and e-mail: two leads of
one person into one account are one CRM lead), 107s (refused for the per-second limit), the busiest
second of any one account, the leads each worker created (SyncRun.task_id and the result backend), and
ok (every lead synced, each person in its CRM account once, no 107). Then one line `projection`: what the
measured rates say for more processes and machines.
"""

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import PrivatePostgres, _free_port  # noqa: E402
from tests.e2e.fleet_stack import Fleet  # noqa: E402
from tests.e2e.test_scale_out import busiest_second  # noqa: E402
from tests.e2e.worker_stack import wait_for  # noqa: E402

CRM_PER_SECOND = 10  # the CRM's published limit per account (connectors/crm/schema.py)


def log(message):
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class PrivateRedis:
    def __init__(self, directory):
        self.port = _free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port)

        def up():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_for("redis-server", up, timeout=30)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def run(template, work, workers, args, postgres_url, redis_url):
    fleet = Fleet(work / f"w{workers}", postgres_url=postgres_url, redis_url=redis_url, owners=args.owners,
                  forms=args.forms, accounts=args.accounts, batch_size=args.batch, template=template)
    try:
        processes = [fleet.worker(f"w{n}", ["sync"]) for n in range(1, workers + 1)]
        for worker in processes:
            worker.wait_ready()
        expected = fleet.value("SELECT count(*) FROM sandbox_linkedin_lead WHERE NOT test_lead")
        started = time.perf_counter()
        fan_out = fleet.send("leads.sync_integrations", None, trigger="backfill", days=90, queue="sync")

        def synced():
            failed = fleet.rows("SELECT integration_id, error FROM leads_syncrun WHERE state = 'failed' LIMIT 3")
            if failed:
                raise SystemExit(f"runs failed: {failed}")
            return fleet.value("SELECT count(*) FROM leads_lead WHERE state = 'synced'") >= expected

        wait_for("every lead synced", synced, timeout=args.timeout,
                 on_timeout=lambda: "\n".join(w.tail(10) for w in processes))
        wall = time.perf_counter() - started
        parts = fan_out.get(timeout=60)["parts"]
        # The runs' counts and the tasks' results are saved just after their last leads: wait for them.
        wait_for("the parts' results", lambda: fleet.idle() and all(fleet.task_worker(p["task"]) for p in parts),
                 timeout=120)
        parts = len(parts)
        calls = fleet.rows("SELECT account_ref, method, error_code, created_at FROM sandbox_crm_crmcall")
        by_account = {}
        for account, _, _, at in calls:
            by_account.setdefault(account, []).append(at)
        created_by = Counter()
        for task_id, created in fleet.rows("SELECT task_id, sum(created) FROM leads_syncrun GROUP BY task_id"):
            created_by[fleet.task_worker(task_id) or "?"] += created
        in_crm = fleet.value("SELECT count(*) FROM sandbox_crm_crmlead WHERE is_active")
        distinct = fleet.value(
            "SELECT count(DISTINCT (account_id, email_lower)) FROM sandbox_crm_crmlead WHERE is_active")
        people = fleet.value(
            """SELECT count(DISTINCT (c.account_id, lower(l.email))) FROM leads_lead l JOIN mappings_integration i
               ON i.id = l.integration_id JOIN connectors_crmconnection c ON c.id = i.crm_connection_id""")
        refused = sum(1 for c in calls if c[2] == 107)
        line = {
            "workers": workers, "leads": expected, "integrations": len(fleet.facts["integrations"]),
            "owners": fleet.facts["owners"], "crm_accounts": args.accounts, "parts": parts,
            "wall_s": round(wall, 2), "leads_per_s": round(expected / wall, 1),
            "crm_calls": len(calls), "crm_create_calls": sum(1 for c in calls if c[1] == "createLeads"),
            "crm_107": refused, "busiest_account_second": max(map(busiest_second, by_account.values()), default=0),
            "created_by_worker": dict(sorted(created_by.items())), "batch": args.batch,
            "in_crm": in_crm, "ok": in_crm == distinct == people and refused == 0,
        }
        print(json.dumps(line), flush=True)
        return line
    finally:
        fleet.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=5000, help="the backlog (default 5,000)")
    parser.add_argument("--forms", type=int, default=40, help="integrations, one form each (default 40)")
    parser.add_argument("--owners", type=int, default=8, help="owners the forms are spread over (default 8)")
    parser.add_argument("--accounts", type=int, default=8, help="CRM accounts, 10 calls/s each (default 8)")
    parser.add_argument("--batch", type=int, default=500, help="LEADSYNC_CRM_BATCH_SIZE (default 500, the CRM's most)")
    parser.add_argument("--workers", default="1,2,4", help="worker processes of each run (default 1,2,4)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a run may take")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="leadsync-bench-workers-"))
    work.chmod(0o755)
    pg = redis = template = None
    lines = []
    try:
        pg, redis = PrivatePostgres(), PrivateRedis(work)
        log(f"setup: {args.leads} leads in {args.forms} forms of {args.owners} owners, {args.accounts} CRM accounts")
        t = time.perf_counter()
        template = Fleet(work / "template", postgres_url=pg.url("postgres"), redis_url=redis.url, owners=args.owners,
                         forms=args.forms, accounts=args.accounts, form_leads=-(-args.leads // args.forms),
                         per_second_limit=CRM_PER_SECOND, batch_size=args.batch)
        template.detach()
        log(f"setup: {time.perf_counter() - t:.0f} s")
        for workers in counts:
            log(f"run: {workers} worker process(es)")
            lines.append(run(template, work, workers, args, pg.url("postgres"), redis.url))
    finally:
        if template:
            template.drop()
        if redis:
            redis.stop()
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    one = next((line for line in lines if line["workers"] == 1), lines[0])
    best = max(lines, key=lambda line: line["leads_per_s"])
    ceiling = CRM_PER_SECOND * args.batch
    print(json.dumps({
        "projection": True, "cores": _cores(),
        "speedup": {line["workers"]: round(line["leads_per_s"] / one["leads_per_s"], 2) for line in lines},
        "best_on_this_machine": {"workers": best["workers"], "leads_per_s": best["leads_per_s"]},
        "per_machine_like_this": best["leads_per_s"],
        "crm_ceiling_leads_per_s_per_account": ceiling,
        "note": (f"machines add throughput until PostgreSQL or the CRM is the limit: each CRM account takes at most "
                 f"{CRM_PER_SECOND} calls/s (x {args.batch} leads a call = {ceiling} leads/s) whatever the fleet's "
                 f"size, so M machines give about min(M x {best['leads_per_s']}, accounts x {ceiling}) leads/s; "
                 "one integration's push is one task at a time"),
    }), flush=True)
    return 0 if all(line["ok"] for line in lines) else 1


def _cores():
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
