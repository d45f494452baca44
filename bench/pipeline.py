#!/usr/bin/env python
"""Benchmark: the whole LeadSync pipeline against the sandbox over real HTTP, as a matrix of runs.

For each N (seeded leads) and database (a temporary SQLite file, or a private PostgreSQL cluster started
here like scripts/test.sh starts one), the sandbox is seeded once into a template database; every run
then gets a fresh copy of it, the sandbox CRM's per-second limit set on (10 calls/s) or off (0), and
DEBUG on (as in `make demo`) or off. A run serves the project with runserver (threaded) on a free
loopback port, connects LinkedIn and the CRM through the operator CLI, discovers and enables every form,
then runs `leadsync sync --days 90` twice through bench/sync_probe.py (the second must create nothing)
and prints ONE JSON line. `--naive` adds the one-request-per-lead baseline (bench/naive.py) on its own
fresh copy, CRM limit off; with the limit on its time is projected (one CRM call per lead at 10/s).

    .venv/bin/python bench/pipeline.py                       # make bench: N=10000, the default matrix
    .venv/bin/python bench/pipeline.py --leads 100000 --limit on --debug off   # make bench-large
    .venv/bin/python bench/pipeline.py --leads 500 --database sqlite --limit off --debug off

How each field is measured (see bench/README.md): wall_s is the sync process from exec to exit;
pull/store/push times come from timers the probe wraps around the sync module's leads_pull and
PendingPush.push (pull = time inside LinkedIn HTTP calls during leads_pull, store = the rest of
leads_pull less the pushes made during it, push = every PendingPush.push); LinkedIn calls are counted at the server (bench/request_log.py), CRM calls from the
sandbox's CrmCall rows; peak RSS is the sync process's own ru_maxrss; SQL statements are counted by an
execute_wrapper in the probe.
"""

import argparse
import itertools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import naive  # noqa: E402

CRM_ACCOUNT, CRM_SECRET = "BENCH", "bench-secret"
CRM_MAX_OBJECTS = 500
LIMIT_PER_SECOND = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message):
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class Project:
    """One database (a copy of a seeded template) and the environment every command of a run gets."""

    def __init__(self, *, work, database_url, debug, sandbox_url=None):
        from cryptography.fernet import Fernet

        self.work, self.port = work, free_port()
        self.site = f"http://127.0.0.1:{self.port}"
        self.request_log = work / "requests.jsonl"
        self.env = {
            **{k: v for k, v in os.environ.items()
               if not k.startswith(("LEADSYNC_", "LINKEDIN_", "DATABASE_URL", "BENCH_", "DEBUG"))},
            "DJANGO_SETTINGS_MODULE": "leadsync_project.settings", "LEADSYNC_ENV_FILE": str(work / "none.env"),
            "DEBUG": "True" if debug else "False", "LEADSYNC_SANDBOX": "True", "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "False",
            "SESSION_COOKIE_SECURE": "False", "CSRF_COOKIE_SECURE": "False",
            "DATABASE_URL": database_url, "SECRET_KEY": "bench-" + "k" * 50,
            "FIELD_ENCRYPTION_KEY": os.environ.get("BENCH_FIELD_KEY") or Fernet.generate_key().decode(),
            "LINKEDIN_CLIENT_ID": "bench-app", "LINKEDIN_CLIENT_SECRET": "bench-secret-" + "s" * 20,
            "LINKEDIN_API_URL": f"{self.site}/sandbox/linkedin",
            "LINKEDIN_OAUTH_URL": f"{self.site}/sandbox/linkedin/oauth/v2",
            "LEADGEN_CRM_API_URL": f"{self.site}/sandbox/crm/pubapi/v1.2/",
            "BENCH_REQUEST_LOG": str(self.request_log),
        }
        if sandbox_url:  # the sandbox in a database of its own (bench/split_settings.py)
            self.env.update({"BENCH_SANDBOX_DATABASE_URL": sandbox_url,
                             "DJANGO_SETTINGS_MODULE": "bench.split_settings"})
        self.server = None

    def manage(self, *argv, env=None):
        result = subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env={**self.env, **(env or {})},
                                text=True, capture_output=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(argv[:3])} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def shell(self, code):
        return json.loads(self.manage("shell", "--no-imports", "-c", code).strip().splitlines()[-1])

    def serve(self):
        sampler = []  # BENCH_PY_SPY_SERVER=/path/to/py-spy: sample the server too (server.stacks in the work dir)
        if os.environ.get("BENCH_PY_SPY_SERVER"):
            sampler = [os.environ["BENCH_PY_SPY_SERVER"], "record", "--rate", "100", "--format", "raw", "--threads",
                       "--output", str(self.work / "server.stacks"), "--"]
        self.server = subprocess.Popen(
            [*sampler, sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload", "--skip-checks"],
            cwd=ROOT, env={**self.env, "DJANGO_SETTINGS_MODULE": "bench.server_settings"},
            stdout=subprocess.DEVNULL, stderr=open(self.work / "server.log", "w"))
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{self.site}/admin/login/", timeout=5)
                return
            except urllib.error.HTTPError:
                return  # it answers (with DEBUG off and no collectstatic, the login page is a 500)
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"the server did not start: {(self.work / 'server.log').read_text()[-2000:]}")

    def stop(self):
        if self.server:
            # py-spy writes its samples on an interrupt and passes it on; runserver stops on one too
            self.server.send_signal(signal.SIGINT if os.environ.get("BENCH_PY_SPY_SERVER") else signal.SIGTERM)
            self.server.wait(timeout=20)
            self.server = None

    def probe(self, name, *argv, env=None):
        """Run a leadsync command through bench/sync_probe.py; returns (its document, wall seconds)."""
        out = self.work / f"{name}.json"
        started = time.perf_counter()
        sampler = []  # BENCH_PY_SPY=/path/to/py-spy: sample the probe (collapsed stacks beside its document)
        if os.environ.get("BENCH_PY_SPY"):
            sampler = [os.environ["BENCH_PY_SPY"], "record", "--rate", "250", "--format", "raw", "--threads",
                       "--output", str(out.with_suffix(".stacks")), "--"]
        result = subprocess.run([*sampler, sys.executable, "bench/sync_probe.py", str(out), *argv], cwd=ROOT,
                                env={**self.env, **(env or {})}, text=True, capture_output=True, check=False)
        wall = time.perf_counter() - started
        if not out.exists():
            raise SystemExit(f"{name} crashed:\n{result.stdout}\n{result.stderr}")
        document = json.loads(out.read_text())
        if document["status"] != 0:
            raise SystemExit(f"{name} exited {document['status']}:\n{document['stdout']}\n{result.stderr}")
        return document, wall

    def requests_since(self, offset):
        if not self.request_log.exists():
            return [], 0
        with open(self.request_log) as f:
            f.seek(offset)
            lines = f.read()
            return [json.loads(line) for line in lines.splitlines() if line], f.tell()


def tree_cpu_s(pid) -> float:
    """CPU seconds (user + system) of a process and its descendants, live ones and reaped ones, from
    /proc: for the servers beside the sync (the sandbox's runserver, PostgreSQL's postmaster and its
    backends), so a run shows how much of the machine's two cores the sync had to itself."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
    for task in os.listdir("/proc"):
        if task.isdigit():
            try:
                stat = open(f"/proc/{task}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                total += tree_cpu_s(int(task))
    return total


def template(args, database, n, pg, work):
    """Migrate and seed a template database once per (database, N); returns (url maker, seed document)."""
    sandbox_path = None
    if database == "sqlite":
        path = work / f"template-{n}.sqlite3"
        url = f"sqlite:///{path}"
        if not args.shared_sandbox_db:
            sandbox_path = work / f"template-{n}-sandbox.sqlite3"
    else:
        name = f"template_{n}"
        url = pg.url(name)
        pg.sql(f"CREATE DATABASE {name}")
    project = Project(work=work, database_url=url, debug=False,
                      sandbox_url=f"sqlite:///{sandbox_path}" if sandbox_path else None)
    started = time.perf_counter()
    project.manage("migrate", "--noinput", "-v0")
    if sandbox_path:
        project.manage("migrate", "--noinput", "-v0", "--database", "sandbox")
    migrate_s = time.perf_counter() - started
    started = time.perf_counter()
    people = [] if args.reuse_people else ["--unique-people"]
    seed = json.loads(project.manage("sandbox_seed", "--leads", str(n), "--days", "85", *people, "--json"))
    seed_s = time.perf_counter() - started
    project.manage("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET,
                   "--daily-limit", "0")
    if args.no_short_pages:
        project.shell("from sandbox.linkedin.models import SandboxSettings; "
                      "SandboxSettings.objects.update(short_pages=False); print('{}')")
    if database == "postgres":
        # The seeded sandbox as a server that has run a while has it: planner statistics, and the
        # visibility map that lets the finder count a page's total from its index alone (a COUNT
        # over 36,000 leads: 2 ms instead of 20). Autovacuum may not have got to them yet; every
        # copy inherits them.
        pg.sql("VACUUM ANALYZE", database=name)
    log(f"{database} N={n}: migrate {migrate_s:.1f} s, sandbox_seed {seed_s:.1f} s")
    counter = itertools.count()

    def copy():
        number = next(counter)
        if database == "sqlite":
            target = work / f"run-{n}-{number}.sqlite3"
            shutil.copyfile(path, target)
            urls = {"database_url": f"sqlite:///{target}"}
            if sandbox_path:
                shutil.copyfile(sandbox_path, work / f"run-{n}-{number}-sandbox.sqlite3")
                urls["sandbox_url"] = f"sqlite:///{work / f'run-{n}-{number}-sandbox.sqlite3'}"
            return urls
        pg.sql(f"CREATE DATABASE run_{n}_{number} TEMPLATE template_{n}")
        return {"database_url": pg.url(f"run_{n}_{number}")}

    return copy, seed, {"migrate_s": round(migrate_s, 1), "seed_s": round(seed_s, 1),
                        "sandbox_database": "own" if sandbox_path else "shared",
                        "unique_people": not args.reuse_people}


def connect(project, seed, crm_limit):
    project.manage("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET,
                   "--per-second-limit", str(LIMIT_PER_SECOND if crm_limit else 0), "--daily-limit", "0")
    project.serve()
    tokens = seed["tokens"]
    project.manage("leadsync", "crm", "add", "bench", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET)
    project.manage("leadsync", "linkedin", "add", "bench", "--access-token", tokens["access_token"],
                   "--refresh-token", tokens["refresh_token"])
    forms = json.loads(project.manage("leadsync", "discover", "--json"))["forms"]
    enabled = []
    for form in forms:
        result = subprocess.run([sys.executable, "manage.py", "leadsync", "enable", str(form["form_id"]), "--crm",
                                 "bench"], cwd=ROOT, env=project.env, text=True, capture_output=True)
        if result.returncode == 0:
            enabled.append(form["form_id"])
    return enabled


def finder_stats(requests_log):
    """LinkedIn finder calls grouped by owner and lead type, with the minimum each group needed."""
    groups = defaultdict(lambda: {"calls": 0, "elements": 0, "count": 0})
    for r in requests_log:
        if not r["path"].endswith("/rest/leadFormResponses"):
            continue
        params = dict(parse_qsl(r["query"]))
        group = groups[(params.get("owner"), params.get("leadType"))]
        group["calls"] += 1
        group["elements"] += r["elements"] or 0
        group["count"] = max(group["count"], int(params.get("count", 10)))
    minimum = sum(max(1, math.ceil(g["elements"] / g["count"])) for g in groups.values())
    served_s = sum(r["s"] for r in requests_log if r["path"].endswith("/rest/leadFormResponses"))
    page = max((g["count"] for g in groups.values()), default=None)
    return sum(g["calls"] for g in groups.values()), minimum, page, len(groups), served_s


def first_finder_queries(requests_log):
    """The query string of the first finder call of each owner and lead type."""
    firsts = {}
    for r in requests_log:
        if r["path"].endswith("/rest/leadFormResponses"):
            p = dict(parse_qsl(r["query"]))
            firsts.setdefault((p.get("owner"), p.get("leadType")), r["query"])
    return list(firsts.values())


def crm_counts(project):
    return project.shell(
        "import json; from django.db.models import Count; from sandbox.crm.models import CrmCall, CrmLead; "
        "from leads.models import Lead; "
        f"calls = dict(CrmCall.objects.filter(account_ref='{CRM_ACCOUNT}').values_list('method')"
        ".annotate(n=Count('id')).values_list('method', 'n')); "
        f"crm_leads = CrmLead.objects.filter(account__account_id='{CRM_ACCOUNT}').count(); "
        "synced = Lead.objects.exclude(crm_id='').values('crm_id').distinct().count(); "
        "print(json.dumps({'calls': calls, 'crm_leads': crm_leads, 'distinct_crm_ids': synced, "
        "'leads': Lead.objects.count()}))")


def rate(count, seconds):
    return round(count / seconds, 1) if seconds else None


def one_run(args, *, n, database, crm_limit, debug, copy, seed, seeding, work, profile=False, servers=()):
    project = Project(work=work / f"{database}-{n}-{crm_limit}-{debug}", **copy(), debug=debug)
    project.work.mkdir(parents=True, exist_ok=True)
    try:
        enabled = connect(project, seed, crm_limit)
        _, offset = project.requests_since(0)
        extra = {}
        if profile:
            extra = {"BENCH_PROFILE": str(work / "profile.txt")}
        if profile and args.tracemalloc:
            extra["BENCH_TRACEMALLOC"] = str(work / "tracemalloc.txt")
        if os.environ.get("BENCH_RSS_TRACE"):  # any value: the first sync's memory over time, in the work dir
            extra["BENCH_RSS_TRACE"] = str(work / "first.rss.tsv")
        servers = [project.server.pid, *servers]
        before = [tree_cpu_s(pid) for pid in servers]
        first, wall = project.probe("first", "leadsync", "-v0", "sync", "--days", "90", "--json", env=extra)
        # CPU the servers beside the sync spent during it: the sandbox's runserver, and PostgreSQL.
        server_cpu = [round(tree_cpu_s(pid) - b, 2) for pid, b in zip(servers, before)]
        first_requests, offset = project.requests_since(offset)
        second, second_wall = project.probe("second", "leadsync", "-v0", "sync", "--days", "90", "--json")
        second_requests, _ = project.requests_since(offset)
    finally:
        project.stop()
    crm = crm_counts(project)
    runs = json.loads(first["stdout"])["runs"]
    second_runs = json.loads(second["stdout"])["runs"]
    pulled = sum(r["pulled"] for r in runs)
    stored = sum(r["new"] for r in runs)
    pushed = sum(r["created"] + r["updated"] for r in runs)
    linkedin_calls, linkedin_min, page, groups, served_s = finder_stats(first_requests)
    creates = crm["calls"].get("createLeads", 0)
    stages = first["stages"]
    pull_s = stages["pull"][2] if stages else None
    # Pushes made while the pull reads on are push time, not store time.
    store_s = stages["pull"][1] - stages["pull"][2] - (stages["pull"][3] if len(stages["pull"]) > 3 else 0) \
        if stages else None
    push_s = stages["push"][1] if stages else None
    line = {
        "N": n, "database": database, "crm_limit": LIMIT_PER_SECOND if crm_limit else 0, "debug": debug,
        "kind": "product", "forms_enabled": len(enabled),
        "pulled": pulled, "stored": stored, "pushed": pushed, "failed": sum(r["failed"] for r in runs),
        "wall_s": round(wall, 2), "sync_s": round(first["command_s"], 2),
        "pull_s": round(pull_s, 2) if stages else None, "store_s": round(store_s, 2) if stages else None,
        "push_s": round(push_s, 2) if stages else None,
        "leads_per_s": {"pull": rate(pulled, pull_s), "store": rate(stored, store_s), "push": rate(pushed, push_s),
                        "end_to_end": rate(pushed, wall)},
        "linkedin_calls": linkedin_calls, "linkedin_min": linkedin_min, "linkedin_page_size": page,
        "finder_groups": groups,
        # Of pull_s, the time the sandbox itself took to answer the finder calls (its request log).
        "linkedin_server_s": round(served_s, 2),
        "crm_calls": sum(crm["calls"].values()), "crm_calls_by_method": crm["calls"], "crm_creates": creates,
        "crm_creates_min": math.ceil(sum(r["created"] for r in runs) / CRM_MAX_OBJECTS),
        "crm_creates_min_per_integration": sum(math.ceil(r["created"] / CRM_MAX_OBJECTS) for r in runs),
        "peak_rss_mb": round(first["maxrss_kb"] / 1024, 1),
        "sql_queries": first["sql_queries"],
        "sql_per_1000_leads": round(first["sql_queries"] * 1000 / max(pulled, 1), 1),
        "sql_s": round(first["sql_s"], 2),
        # CPU of the first sync's command: all threads, and the pull's (main) thread alone.
        "cpu_s": round(first.get("cpu_s", 0), 2), "main_thread_cpu_s": round(first.get("main_thread_cpu_s", 0), 2),
        "sandbox_server_cpu_s": server_cpu[0], "postgres_cpu_s": server_cpu[1] if len(server_cpu) > 1 else None,
        "linkedin_client_s": round(first["http"]["linkedin"][1], 2), "crm_client_s": round(first["http"]["crm"][1], 2),
        "second_sync": {"wall_s": round(second_wall, 2), "pulled": sum(r["pulled"] for r in second_runs),
                        "new": sum(r["new"] for r in second_runs),
                        "created": sum(r["created"] for r in second_runs),
                        "linkedin_calls": finder_stats(second_requests)[0],
                        "peak_rss_mb": round(second["maxrss_kb"] / 1024, 1)},
        "crm_side": {"crm_leads": crm["crm_leads"], "distinct_crm_ids": crm["distinct_crm_ids"]},
        "short_pages": not args.no_short_pages,
        **seeding,
    }
    problems = []
    if line["second_sync"]["created"] or line["second_sync"]["new"]:
        problems.append("the second sync created leads")
    if crm["crm_leads"] != crm["distinct_crm_ids"]:
        problems.append("CRM leads and stored CRM ids differ")
    if profile:
        line["profile"] = str(work / "profile.txt")
    line["ok"] = not problems
    if problems:
        line["problems"] = problems
    return line, first_requests


def naive_run(*, n, database, copy, seed, seeding, work, finder_queries, product_line, cap):
    project = Project(work=work / f"naive-{database}-{n}", **copy(), debug=False)
    project.work.mkdir(parents=True, exist_ok=True)
    try:
        project.manage("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET,
                       "--per-second-limit", "0", "--daily-limit", "0")
        project.serve()
        result = naive.run(site=project.site, access_token=seed["tokens"]["access_token"], account_id=CRM_ACCOUNT,
                           secret_key=CRM_SECRET, finder_queries=finder_queries, cap=cap)
    finally:
        project.stop()
    naive_rate = result["leads"] / result["seconds"]
    line = {"N": n, "database": database, "crm_limit": 0, "debug": False, "kind": "naive",
            "leads": result["leads"], "capped_at": cap, "wall_s": round(result["seconds"], 2),
            "leads_per_s": {"end_to_end": round(naive_rate, 1)},
            "linkedin_calls": result["linkedin_calls"], "crm_calls": result["crm_calls"],
            # With the limit on, every lead is one createLeads call at 10 calls/s.
            "projected_s_with_crm_limit": round((product_line["pulled"] if product_line else n) / LIMIT_PER_SECOND, 1),
            "projected_s_limit_off": round((product_line["pulled"] if product_line else n) / naive_rate, 1),
            **seeding}
    if product_line:
        line["product_vs_naive"] = round(product_line["leads_per_s"]["end_to_end"] / naive_rate, 1)
        line["product_run"] = {k: product_line[k] for k in ("database", "crm_limit", "debug")}
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[int(os.environ.get("BENCH_N", 10000))])
    parser.add_argument("--reuse-people", action="store_true",
                        help="seed people who submit more than once and share e-mails (the product then dedupes and "
                        "updates); by default every lead is its own person (sandbox_seed --unique-people)")
    parser.add_argument("--database", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument("--limit", nargs="+", choices=["on", "off"], default=["on", "off"],
                        help="the sandbox CRM's 10 calls/s limit")
    parser.add_argument("--debug", nargs="+", choices=["on", "off"], default=["on", "off"])
    parser.add_argument("--naive", action="store_true", help="add the naive baseline (limit off, DEBUG off)")
    parser.add_argument("--naive-leads", type=int, help="stop the naive baseline after this many leads and "
                        "report its rate over them (its full run is O(N) slow calls)")
    parser.add_argument("--naive-only", metavar="REQUEST_LOG",
                        help="run only the naive baseline, with the finder queries of an earlier product run's "
                        "server log (requests.jsonl, kept with --keep)")
    parser.add_argument("--config", action="append", metavar="LIMIT:DEBUG",
                        help="run only these (e.g. on:on off:off) instead of every --limit x --debug")
    parser.add_argument("--profile", action="store_true",
                        help="profile the first sync of the first run (pyinstrument)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="with --profile, also trace allocations (slows allocation-heavy code several times)")
    parser.add_argument("--no-short-pages", action="store_true",
                        help="turn the sandbox's short-pages switch off (on by default: every fifth position of a "
                        "finder page is a filtered-out lead, so pages of 100 hold 80 and calls/minimum is 1.25)")
    parser.add_argument("--shared-sandbox-db", action="store_true",
                        help="on SQLite, keep the sandbox's tables in the product's database file (by default they "
                        "have a file of their own, as LinkedIn's and the CRM's servers have their own databases)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="leadsync-bench-"))
    pg = None
    try:
        if "postgres" in args.database:
            from bench.pg import PrivatePostgres
            pg = PrivatePostgres()
            log(f"private PostgreSQL on 127.0.0.1:{pg.port}")
        for n in args.leads:
            for database in args.database:
                copy, seed, seeding = template(args, database, n, pg, work)
                if args.naive_only:
                    logged = [json.loads(line) for line in open(args.naive_only) if line.strip()]
                    print(json.dumps(naive_run(n=n, database=database, copy=copy, seed=seed, seeding=seeding,
                                               work=work, finder_queries=first_finder_queries(logged),
                                               product_line=None, cap=args.naive_leads)), flush=True)
                    continue
                product_limit_off = None
                finder_queries = None
                profile = args.profile
                configs = ([tuple(c.split(":")) for c in args.config] if args.config
                           else list(itertools.product(args.limit, args.debug)))
                for crm_limit, debug in configs:
                    log(f"{database} N={n} limit={crm_limit} debug={debug}")
                    line, requests_log = one_run(args, n=n, database=database, crm_limit=crm_limit == "on",
                                                 debug=debug == "on", copy=copy, seed=seed, seeding=seeding,
                                                 work=work, profile=profile,
                                                 servers=[pg.postmaster_pid()] if database == "postgres" else [])
                    profile = False
                    print(json.dumps(line), flush=True)
                    if crm_limit == "off" and (product_limit_off is None or not line["debug"]):
                        product_limit_off = line
                    if finder_queries is None:
                        finder_queries = first_finder_queries(requests_log)
                if args.naive and finder_queries:
                    log(f"{database} N={n} naive baseline")
                    print(json.dumps(naive_run(n=n, database=database, copy=copy, seed=seed, seeding=seeding,
                                               work=work, finder_queries=finder_queries,
                                               product_line=product_limit_off, cap=args.naive_leads)), flush=True)
    finally:
        if pg:
            pg.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
