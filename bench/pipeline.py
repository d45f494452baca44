#!/usr/bin/env python
"""Benchmark: how fast LeadSync pulls and pushes leads, over real HTTP, on this machine.

It builds a throwaway project state (SQLite by default, or --database URL), seeds the sandbox with
--leads leads, serves the project (and so the sandbox) with runserver on a free loopback port, then
times, through the operator CLI: discover, enable every event form, a first `sync --days 90` (pull +
push of every lead) and a second one (a re-pull that must create nothing). Prints a JSON summary.

    .venv/bin/python bench/pipeline.py --leads 2000
    make bench
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1000, help="leads to seed (default 1000)")
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    work = Path(tempfile.mkdtemp(prefix="leadsync-bench-"))
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LEADSYNC_", "LINKEDIN_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "leadsync_project.settings", "LEADSYNC_ENV_FILE": str(work / "none.env"),
        "DEBUG": "True", "LEADSYNC_SANDBOX": "True", "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database or f"sqlite:///{work / 'bench.sqlite3'}",
        "SECRET_KEY": secrets.token_urlsafe(40), "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "LINKEDIN_CLIENT_ID": "bench-app", "LINKEDIN_CLIENT_SECRET": secrets.token_urlsafe(20),
        "LINKEDIN_API_URL": f"{site}/sandbox/linkedin", "LINKEDIN_OAUTH_URL": f"{site}/sandbox/linkedin/oauth/v2",
        "LEADGEN_CRM_API_URL": f"{site}/sandbox/crm/pubapi/v1.2/",
    }

    def manage(*argv, capture=True):
        result = subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, text=True,
                                capture_output=capture, check=False)
        if result.returncode != 0:
            sys.exit(f"manage.py {' '.join(argv[:2])} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def timed(*argv):
        start = time.perf_counter()
        out = manage(*argv)
        return time.perf_counter() - start, out

    manage("migrate", "--noinput", "-v0")
    seed = json.loads(manage("sandbox_seed", "--leads", str(args.leads), "--days", "85", "--json"))
    manage("sandbox_crm_account", "--account-id", "BENCH", "--secret-key", "bench-secret")
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{site}/admin/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        tokens = seed["tokens"]
        manage("leadsync", "crm", "add", "bench", "--account-id", "BENCH", "--secret-key", "bench-secret")
        manage("leadsync", "linkedin", "add", "bench", "--access-token", tokens["access_token"],
               "--refresh-token", tokens["refresh_token"])
        discover_s, out = timed("leadsync", "discover", "--json")
        forms = [f["form_id"] for f in json.loads(out)["forms"] if f["event"]]
        for form_id in forms:
            manage("leadsync", "enable", form_id, "--crm", "bench")
        first_s, out = timed("leadsync", "-v0", "sync", "--days", "90", "--json")
        first = json.loads(out)["runs"]
        second_s, out = timed("leadsync", "-v0", "sync", "--days", "90", "--json")
        second = json.loads(out)["runs"]
    finally:
        server.terminate()
        server.wait(timeout=10)

    calls = json.loads(manage("shell", "--no-imports", "-c", "import json; from django.db.models import Count; "
                              "from sandbox.crm.models import CrmCall; print(json.dumps(dict(CrmCall.objects.values_list"
                              "('method').annotate(n=Count('id')).values_list('method', 'n'))))"))
    pulled = sum(r["pulled"] for r in first)
    pushed = sum(r["created"] + r["updated"] for r in first)
    summary = {
        "leads_seeded": args.leads, "database": "sqlite" if not args.database else args.database.split(":", 1)[0],
        "event_forms": len(forms), "discover_seconds": round(discover_s, 2),
        "first_sync": {"seconds": round(first_s, 2), "pulled": pulled, "stored": sum(r["new"] for r in first),
                       "pushed": pushed, "failed": sum(r["failed"] for r in first),
                       "leads_per_second": round(pushed / first_s, 1) if first_s else None},
        "crm_calls": calls,
        "second_sync": {"seconds": round(second_s, 2), "pulled": sum(r["pulled"] for r in second),
                        "created": sum(r["created"] for r in second), "new": sum(r["new"] for r in second)},
    }
    print(json.dumps(summary, indent=2))
    if summary["second_sync"]["created"] or summary["second_sync"]["new"]:
        sys.exit("the second sync created leads: idempotency is broken")


if __name__ == "__main__":
    main()
