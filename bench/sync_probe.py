#!/usr/bin/env python
"""Run `manage.py leadsync ARGS...` in this process, measured from outside the product.

    python bench/sync_probe.py OUT.json leadsync -v0 sync --days 90 --json

The command runs through call_command exactly as the CLI would. Around it, and only here:
- every SQL statement is counted (and timed) by a connection.execute_wrapper;
- every HTTP request the product sends is timed at requests' transport adapter (by URL: LinkedIn or CRM);
- the pipeline's two stages, leads.pipeline.sync.leads_pull and leads_push, are wrapped with timers (the
  names the sync module calls today; if they move, the stage times are reported as null);
- BENCH_PROFILE=FILE runs it under pyinstrument and writes the text report there;
- BENCH_TRACEMALLOC=FILE records the traced-memory peak and the top allocation sites at the end;
- BENCH_RSS_TRACE=FILE samples this process's resident memory (/proc/self/status: VmRSS, RssAnon, RssFile,
  RssShmem, in kB) five times a second while the command runs, one tab-separated line a sample, and every
  5 s the number of objects Python's collector tracks, to see when the peak comes and whose memory it is.
It writes the command's stdout, exit status and these measures, with this process's peak RSS
(getrusage RUSAGE_SELF ru_maxrss), as one JSON document to OUT.json.
"""

import io
import json
import os
import resource
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadsync_project.settings")


def main():
    out_path, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    import django

    django.setup()
    import requests.adapters
    from django.conf import settings
    from django.core.management import CommandError, call_command
    from django.db import connection

    sql = {"queries": 0, "seconds": 0.0}
    by_statement = {}  # the statement's first words -> [count, seconds]: where the SQL time goes
    http = {"linkedin": [0, 0.0], "crm": [0, 0.0], "other": [0, 0.0]}
    # calls, seconds, and for the pull: LinkedIn seconds inside it, push seconds inside it (full batches
    # are pushed while the pull reads on)
    stages = {"pull": [0, 0.0, 0.0, 0.0], "push": [0, 0.0]}

    def count_sql(execute, statement, params, many, context):
        t = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            spent = time.perf_counter() - t
            sql["queries"] += 1
            sql["seconds"] += spent
            entry = by_statement.setdefault(" ".join(statement.split()[:6])[:80] + (" [many]" if many else ""), [0, 0.0])
            entry[0] += 1
            entry[1] += spent

    send = requests.adapters.HTTPAdapter.send
    linkedin_url, crm_marker = settings.LINKEDIN_API_URL, "/pubapi/"

    def timed_send(self, request, *args, **kwargs):
        t = time.perf_counter()
        try:
            return send(self, request, *args, **kwargs)
        finally:
            kind = ("linkedin" if request.url.startswith(linkedin_url) else
                    "crm" if crm_marker in request.url else "other")
            http[kind][0] += 1
            http[kind][1] += time.perf_counter() - t

    requests.adapters.HTTPAdapter.send = timed_send

    from leads.pipeline import sync as sync_module

    from leads.pipeline import push as push_module

    def stage(name, function):
        def wrapped(*args, **kwargs):
            t, linkedin_before, push_before = time.perf_counter(), http["linkedin"][1], stages["push"][1]
            try:
                return function(*args, **kwargs)
            finally:
                stages[name][0] += 1
                stages[name][1] += time.perf_counter() - t
                if name == "pull":
                    stages[name][2] += http["linkedin"][1] - linkedin_before
                    stages[name][3] += stages["push"][1] - push_before
        return wrapped

    # The sync pushes through PendingPush.push (during the pull and after it); older code called leads_push.
    hooked = hasattr(sync_module, "leads_pull") and (hasattr(push_module, "PendingPush")
                                                     or hasattr(sync_module, "leads_push"))
    if hooked:
        sync_module.leads_pull = stage("pull", sync_module.leads_pull)
        if hasattr(push_module, "PendingPush"):
            push_module.PendingPush.push = stage("push", push_module.PendingPush.push)
        else:
            sync_module.leads_push = stage("push", sync_module.leads_push)

    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.001)
    tracemalloc_file = os.environ.get("BENCH_TRACEMALLOC")
    if tracemalloc_file:
        import tracemalloc
        tracemalloc.start(1)

    rss_trace = os.environ.get("BENCH_RSS_TRACE")
    if rss_trace:
        sample_rss(Path(rss_trace))

    stdout, status = io.StringIO(), 0
    command_started = time.perf_counter()
    cpu_started, main_cpu_started = time.process_time(), time.thread_time()
    try:
        with connection.execute_wrapper(count_sql), redirect_stdout(stdout):
            if profiler:
                profiler.start()
            try:
                call_command(*argv, stdout=stdout)
            finally:
                if profiler:
                    profiler.stop()
    except CommandError as exc:
        status = exc.returncode
        print(exc, file=sys.stderr)
    command_s = time.perf_counter() - command_started
    # CPU of the command: every thread of the process, and the main (pull's) thread alone; the rest of
    # command_s is waiting (for pages, for a CRM answer, for a lock).
    cpu_s, main_cpu_s = time.process_time() - cpu_started, time.thread_time() - main_cpu_started

    if profiler:
        Path(os.environ["BENCH_PROFILE"]).write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    memory = None
    if tracemalloc_file:
        current, peak = tracemalloc.get_traced_memory()
        top = tracemalloc.take_snapshot().statistics("lineno")[:15]
        Path(tracemalloc_file).write_text(
            f"traced now {current / 1e6:.1f} MB, peak {peak / 1e6:.1f} MB\n" + "\n".join(str(s) for s in top) + "\n")
        memory = {"traced_peak_mb": round(peak / 1e6, 1)}

    document = {
        "status": status, "stdout": stdout.getvalue(), "command_s": command_s,
        "process_s_before_exit": time.perf_counter() - started, "cpu_s": cpu_s, "main_thread_cpu_s": main_cpu_s,
        "sql_queries": sql["queries"], "sql_s": sql["seconds"], "http": http,
        "sql_top": sorted(([k, v[0], round(v[1], 2)] for k, v in by_statement.items()), key=lambda e: -e[2])[:12],
        "stages": stages if hooked else None, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "debug": settings.DEBUG, "tracemalloc": memory,
    }
    Path(out_path).write_text(json.dumps(document))
    sys.exit(status)


def sample_rss(path, fields=("VmRSS", "RssAnon", "RssFile", "RssShmem")):
    """Start a daemon thread appending one line of resident-memory figures (kB) to PATH every 0.2 s."""
    import gc
    import threading
    started = time.perf_counter()

    def sample():
        with path.open("w") as out:
            out.write("\t".join(("s",) + fields + ("objects",)) + "\n")
            n = 0
            while True:
                status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
                # Every 5 s, the number of objects the collector tracks: growth there is Python's, not C's.
                objects = str(len(gc.get_objects())) if n % 25 == 0 else ""
                out.write("\t".join([f"{time.perf_counter() - started:.1f}"]
                                     + [status[f].split()[0] for f in fields] + [objects]) + "\n")
                n += 1
                out.flush()
                time.sleep(0.2)

    threading.Thread(target=sample, name="rss-trace", daemon=True).start()


if __name__ == "__main__":
    main()
