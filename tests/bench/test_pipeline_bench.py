"""The pipeline benchmark (bench/pipeline.py) at N = 500, to keep it working: one run on SQLite with
the CRM's limit off and DEBUG off; its counts and its checks of the CRM side are asserted, never its
timings."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_pipeline_benchmark_runs_at_500_leads_and_loses_or_doubles_nothing():
    done = subprocess.run([sys.executable, "bench/pipeline.py", "--leads", "500", "--database", "sqlite",
                           "--config", "off:off", "--no-short-pages"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-3000:]
    [line] = [json.loads(text) for text in done.stdout.strip().splitlines()]

    assert line["N"] == 500 and line["kind"] == "product" and line["unique_people"] is True
    assert line["ok"] is True, line
    assert line["stored"] == line["pulled"] > 0 and line["failed"] == 0
    assert line["linkedin_calls"] == line["linkedin_min"], "one finder call per page of 100, no more"
    assert line["crm_calls_by_method"].get("createLeads") == line["crm_creates_min_per_integration"]
    assert "updateLeadsV2" not in line["crm_calls_by_method"], "every lead its own person: creates only"
    assert line["crm_side"]["crm_leads"] == line["crm_side"]["distinct_crm_ids"] == line["pushed"]
    assert line["second_sync"]["new"] == line["second_sync"]["created"] == 0
    for field in ("wall_s", "peak_rss_mb", "sql_per_1000_leads"):
        assert line[field] is not None and line[field] > 0
