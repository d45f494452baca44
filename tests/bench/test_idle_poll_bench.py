"""The idle-poll benchmark (bench/idle_poll.py) at a tiny size, to keep it working: its counts are
checked, never its timings (the benchmark's own `ok` includes the throughput target, so neither its
exit status nor `ok` is asserted here)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_idle_poll_benchmark_runs_at_a_tiny_size():
    done = subprocess.run([sys.executable, "bench/idle_poll.py", "--owners", "5", "--forms", "20"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.stdout.strip(), done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])

    assert (line["integrations"], line["owners"], line["tasks"]) == (20, 5, 20)
    assert line["first_sync"]["new"] == 20, "one lead per form, caught up before the interval"
    assert line["integrations_polled"] == 20 and line["new_leads"] == 0
    # 3 pages with organic lead types, 2 ad accounts with one: one finder call each, no other call.
    assert line["linkedin_min"] == 3 * 3 + 2 * 1
    assert line["linkedin_calls"] == line["linkedin_finder_calls"] == line["linkedin_min"]
    assert line["crm_calls"] == 0
    assert set(line["outcomes"]) <= {"succeeded", "done"}
    assert not [p for p in line.get("problems", []) if "per 5 minutes" not in p], line
