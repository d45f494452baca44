#!/usr/bin/env python
"""Benchmark: idle polls (issue 10). One worker runs one beat interval's scheduled polls of many
integrations that have nothing new, against the sandbox over real HTTP.

    .venv/bin/python bench/idle_poll.py                        # make bench-idle: 50 owners, 1,000 integrations
    .venv/bin/python bench/idle_poll.py --celery               # the same on a real Celery worker
    .venv/bin/python bench/idle_poll.py --owners 5 --forms 20  # the suite's smoke size

Setup (not timed): a fresh SQLite database (or a private PostgreSQL with --database postgres), the sandbox
seeded with `sandbox_seed --owners N --forms M --form-leads 1` (N pages and ad accounts, alternating, that
the sandbox's admin member administers, holding M published forms round robin, one lead each, a day or
more old), the project served by runserver with the request log (bench/server_settings.py), LinkedIn and
the CRM connected through the operator CLI, `leadsync discover`, the M forms enabled every 5 minutes with
`integration_enable` (the service `leadsync enable` calls; in one process, since M CLI processes would
spend their time starting Django), and a first `leadsync sync` so that everything is caught up.

Timed: the interval. A worker process (this file with --worker) takes the enabled beat entries of
`leads.sync_integration` (one per integration, as `enable` made them), in a shuffled order (beat's heap
sends entries that are due together in no particular order), and runs each entry's task with its
arguments through Celery's `Task.apply`, one after the other in one process: what one worker with
one process (`--pool solo`, or concurrency 1) does with one interval's ticks, without the broker's
round trip. With --celery, a real Celery worker process (--pool solo) runs them instead, over kombu's
filesystem broker (no Redis here), sent with send_task as beat sends them, every result awaited.
wall_s is from the first task's start (or send) to the last one's end (or result); a worker is
long-running, so Django's start is not in it.

Printed, one JSON line: integrations, owners, wall_s, polled_per_5_min (integrations × 300 / wall_s),
LinkedIn calls during the interval counted at the server (finder calls and any other), their minimum
(Σ over owners of the lead types their enabled forms receive: one finder page each), CRM calls (the
sandbox's CrmCall rows) during the interval, the tasks' outcomes, and ok.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INTERVAL_MINUTES = 5
TARGET_PER_INTERVAL = 1000


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadsync_project.settings")
    import django

    django.setup()


def _interval_entries():
    """The args of every enabled beat entry of sync_integration, shuffled (seeded)."""
    from django_celery_beat.models import PeriodicTask

    from leads.tasks import sync_integration

    entries = [json.loads(a) for a in
               PeriodicTask.objects.filter(task=sync_integration.name, enabled=True).values_list("args", flat=True)]
    random.Random(0).shuffle(entries)
    return sync_integration, entries


def _tally(values):
    outcomes, failures = Counter(), []
    for value in values:
        outcomes[value["state"]] += 1
        if value["state"] not in ("succeeded", "done"):
            failures.append(value)
    return outcomes, failures


def _celery_app(broker_dir):
    """The project's Celery app on a filesystem broker and result store under `broker_dir` (there is no
    Redis here; kombu's filesystem transport is a real broker between processes)."""
    from leadsync_project.celery import app

    for sub in ("queue", "results"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    # Celery reads these two from the environment before its configuration.
    os.environ["CELERY_BROKER_URL"], os.environ["CELERY_RESULT_BACKEND"] = (
        "filesystem://", f"file://{broker_dir / 'results'}")
    app.conf.update(broker_url="filesystem://", result_backend=f"file://{broker_dir / 'results'}",
                    broker_transport_options={"data_folder_in": str(broker_dir / "queue"),
                                              "data_folder_out": str(broker_dir / "queue"),
                                              "control_folder": str(broker_dir / "control"),
                                              "store_processed": False, "polling_interval": 0.01},
                    task_always_eager=False)
    return app


def celery_worker(broker_dir):
    """A real Celery worker, one process (--pool solo), on the bench's filesystem broker."""
    _django()
    app = _celery_app(Path(broker_dir))
    app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "-n", "idle-bench@%h"])


def celery_interval(out_path, broker_dir):
    """The timed part with a real worker: send one interval's ticks, as beat does, and wait for all."""
    _django()
    app = _celery_app(Path(broker_dir))
    task, entries = _interval_entries()
    app.send_task("leadsync.ping").get(timeout=120)  # the worker is up and warm
    epoch, started = time.time(), time.perf_counter()
    results = [app.send_task(task.name, args=args) for args in entries]
    values = [r.get(timeout=600, propagate=False) for r in results]
    wall = time.perf_counter() - started
    values = [v if isinstance(v, dict) else {"state": f"raised {v!r}"} for v in values]
    outcomes, failures = _tally(values)
    Path(out_path).write_text(json.dumps({"tasks": len(entries), "wall_s": wall, "started": epoch,
                                          "outcomes": outcomes, "failures": failures[:5]}))


def worker(out_path, profile_path=None):
    """The timed part, in the project's environment: one interval's sync_integration ticks, in turn,
    each through Task.apply in this process."""
    _django()
    task, entries = _interval_entries()
    profiler = None
    if profile_path:
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.001)
        profiler.start()
    epoch, started = time.time(), time.perf_counter()
    values = []
    for args in entries:
        result = task.apply(args=args)
        values.append(result.result if result.successful() else {"state": f"raised {result.result!r}"})
    wall = time.perf_counter() - started
    outcomes, failures = _tally(values)
    if profiler:
        profiler.stop()
        Path(profile_path).write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    Path(out_path).write_text(json.dumps({"tasks": len(entries), "wall_s": wall, "started": epoch, "outcomes": outcomes,
                                          "failures": failures[:5]}))


ENABLE = """
import json
from connectors.models import CrmConnection, LeadForm
from leads.integrations import integration_enable
crm = CrmConnection.objects.get(name="bench")
done = []
for form in LeadForm.objects.filter(linkedin_id__in={ids!r}).select_related("owner").order_by("pk"):
    done.append(integration_enable(form=form, crm_connection=crm, every={every}).pk)
print(json.dumps(done))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--forms", type=int, default=1000, help="forms, one integration each")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--debug", choices=["on", "off"], default="off", help="DEBUG of the worker (default off, "
                        "as a production worker runs)")
    parser.add_argument("--profile", metavar="FILE", help="profile the interval (pyinstrument) into FILE")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--celery", action="store_true", help="run the ticks on a real Celery worker process "
                        "(--pool solo) over a filesystem broker, sent as beat sends them, instead of in one process")
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--celery-worker", metavar="BROKER_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--celery-interval", nargs=2, metavar=("OUT", "BROKER_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.profile)
    if args.celery_worker:
        return celery_worker(args.celery_worker)
    if args.celery_interval:
        return celery_interval(*args.celery_interval)

    from bench.pipeline import CRM_ACCOUNT, CRM_SECRET, Project, log

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a terminated run still stops its servers

    work = Path(tempfile.mkdtemp(prefix="leadsync-bench-idle-"))
    pg = project = None
    try:
        if args.database == "postgres":
            from bench.pg import PrivatePostgres
            pg = PrivatePostgres()
            pg.sql("CREATE DATABASE idle")
            url = pg.url("idle")
        else:
            url = f"sqlite:///{work / 'idle.sqlite3'}"
        project = Project(work=work, database_url=url, debug=args.debug == "on")
        # No Redis here, and none needed: the in-process worker stores no result, the Celery one gets its own
        # broker (_celery_app). Set, so that a caller's Celery settings (the test suite's memory://) stay out.
        project.env.update(CELERY_BROKER_URL="memory://", CELERY_RESULT_BACKEND="cache+memory://")
        setup = {}

        def step(name, function, *a):
            t = time.perf_counter()
            value = function(*a)
            setup[name] = round(time.perf_counter() - t, 1)
            log(f"{name}: {setup[name]} s")
            return value

        step("migrate_s", project.manage, "migrate", "--noinput", "-v0")
        seed = json.loads(step("seed_s", project.manage, "sandbox_seed", "--leads", "0", "--days", "30",
                               "--owners", str(args.owners), "--forms", str(args.forms), "--form-leads", "1",
                               "--json"))
        # The first sync pushes one lead per integration: the CRM's per-second limit is off for the setup (the
        # interval makes no CRM call either way).
        project.manage("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET,
                       "--per-second-limit", "0", "--daily-limit", "0")
        # runserver answers every request in a thread of its own, whose persistent database connection
        # (CONN_MAX_AGE) outlives it: thousands of requests would exhaust PostgreSQL's 100 connections.
        project.env["CONN_MAX_AGE"] = "0"
        project.serve()
        del project.env["CONN_MAX_AGE"]
        tokens = seed["tokens"]
        project.manage("leadsync", "crm", "add", "bench", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET)
        project.manage("leadsync", "linkedin", "add", "bench", "--access-token", tokens["access_token"],
                       "--refresh-token", tokens["refresh_token"])
        discovered = json.loads(step("discover_s", project.manage, "leadsync", "discover", "--json"))["forms"]
        scale = [f for f in discovered if f["name"].startswith("Scale form ")]
        owners = {f["owner"]: f["lead_types"] for f in scale}
        enabled = json.loads(step("enable_s", project.manage, "shell", "--no-imports", "-c",
                                  ENABLE.format(ids=[f["form_id"] for f in scale], every=INTERVAL_MINUTES))
                             .strip().splitlines()[-1])
        first = json.loads(step("first_sync_s", project.manage, "leadsync", "-v0", "sync", "--json"))
        crm_before = project.shell(
            "import json; from sandbox.crm.models import CrmCall; "
            f"print(json.dumps(CrmCall.objects.filter(account_ref='{CRM_ACCOUNT}').count()))")
        _, offset = project.requests_since(0)

        out = work / "worker.json"
        log(f"interval: {len(enabled)} integrations of {len(owners)} owners"
            + (" on a Celery worker" if args.celery else ""))
        if args.celery:
            broker = work / "broker"
            celery = subprocess.Popen([sys.executable, "bench/idle_poll.py", "--celery-worker", str(broker)],
                                      cwd=ROOT, env=project.env, stdout=subprocess.DEVNULL,
                                      stderr=open(work / "worker.log", "w"))
            try:
                done = subprocess.run([sys.executable, "bench/idle_poll.py", "--celery-interval", str(out),
                                       str(broker)], cwd=ROOT, env=project.env, text=True, capture_output=True)
            finally:
                celery.terminate()
                celery.wait(timeout=30)
        else:
            command = [sys.executable, "bench/idle_poll.py", "--worker", str(out)]
            if args.profile:
                command += ["--profile", str(Path(args.profile).resolve())]
            done = subprocess.run(command, cwd=ROOT, env=project.env, text=True, capture_output=True)
        if done.returncode or not out.exists():
            raise SystemExit(f"the worker failed:\n{done.stdout}\n{done.stderr}")
        polled = json.loads(out.read_text())
        interval_requests, _ = project.requests_since(offset)
        after = project.shell(
            "import json; from datetime import datetime, timezone; "
            "from sandbox.crm.models import CrmCall; from leads.models import SyncRun; from mappings.models import "
            "Integration; recent = SyncRun.objects.filter(trigger='schedule', state='succeeded', "
            f"started_at__gte=datetime.fromtimestamp({polled['started']}, timezone.utc)); "
            "print(json.dumps({'crm': CrmCall.objects.filter(account_ref='" + CRM_ACCOUNT + "').count(), "
            "'runs': recent.count(), 'polled': recent.values('integration').distinct().count(), "
            "'new': sum(recent.values_list('new', flat=True)), "
            "'active': Integration.objects.filter(state='active').count()}))")
    finally:
        if project:
            project.stop()
        if pg:
            pg.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    linkedin = [r for r in interval_requests if "/sandbox/linkedin/" in r["path"]]
    finder = [r for r in linkedin if r["path"].endswith("/rest/leadFormResponses")]
    groups = Counter((p.get("owner"), p.get("leadType")) for p in (dict(parse_qsl(r["query"])) for r in finder))
    minimum = sum(len(types) for types in owners.values())
    wall = polled["wall_s"]
    per_interval = round(len(enabled) * INTERVAL_MINUTES * 60 / wall) if wall else None
    crm_calls = after["crm"] - crm_before
    line = {
        "integrations": len(enabled), "owners": len(owners), "database": args.database, "debug": args.debug == "on",
        "worker": "celery solo, filesystem broker" if args.celery else "in process, Task.apply in turn",
        "tasks": polled["tasks"], "outcomes": polled["outcomes"], "wall_s": round(wall, 2),
        "s_per_integration": round(wall / max(len(enabled), 1), 4),
        "polled_per_5_min": per_interval, "target_per_5_min": TARGET_PER_INTERVAL,
        "linkedin_calls": len(linkedin), "linkedin_finder_calls": len(finder), "linkedin_min": minimum,
        "finder_groups": len(groups), "max_calls_per_group": max(groups.values(), default=0),
        "crm_calls": crm_calls,
        "integrations_polled": after["polled"], "schedule_runs": after["runs"], "new_leads": after["new"],
        "first_sync": {"runs": len(first["runs"]), "new": sum(r["new"] for r in first["runs"]),
                       "created": sum(r["created"] for r in first["runs"])},
        **setup,
    }
    problems = []
    if polled["failures"]:
        problems.append(f"tasks that did not succeed: {polled['failures']}")
    if after["polled"] != len(enabled):
        problems.append(f"{after['polled']} of {len(enabled)} integrations have a scheduled run in the interval")
    if after["new"]:
        problems.append("the idle poll stored new leads")
    if len(linkedin) != minimum:
        problems.append(f"{len(linkedin)} LinkedIn calls for a minimum of {minimum}")
    if crm_calls:
        problems.append(f"{crm_calls} CRM calls")
    if per_interval is None or per_interval < TARGET_PER_INTERVAL:
        problems.append(f"{per_interval} integrations per {INTERVAL_MINUTES} minutes")
    if args.profile:
        line["profile"] = args.profile
    line["ok"] = not problems
    if problems:
        line["problems"] = problems
    print(json.dumps(line), flush=True)
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
