"""A real `celery worker` with LEADSYNC_LOG_FORMAT=json logs through the product's formatter (Celery
leaves the root logger to Django's LOGGING): its lines are JSON, and a task's lines carry its id."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from leadsync_project.celery import ping

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_logs_json_lines_that_name_their_task(redis_url, tmp_path):
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        pytest.skip("the SQLite run proves it; the worker needs no database for a ping")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadsync_project.settings", "DEBUG": "1",
           "LEADSYNC_ENV_FILE": str(tmp_path / "no-such.env"), "DATABASE_URL": f"sqlite:///{db['NAME']}",
           "CELERY_BROKER_URL": redis_url, "CELERY_RESULT_BACKEND": redis_url, "LEADSYNC_LOG_FORMAT": "json"}
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "leadsync_project", "worker", "--pool", "solo",
                                   "--loglevel", "INFO", "--hostname", f"logs-{os.getpid()}@test", "--without-mingle",
                                   "--without-gossip"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        result = ping.apply_async(args=["json?"])
        assert result.get(timeout=60) == "json?"
        deadline = time.monotonic() + 30
        while True:
            records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
            if any(r.get("task_id") == result.id for r in records):
                break
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    done = next(r for r in records if r.get("task_id") == result.id)
    assert done["task"] == "leadsync.ping" and done["logger"] == "celery.app.trace" and "succeeded" in done["message"]
    assert any(r["logger"] == "celery.apps.worker" and r["message"].endswith("ready.") for r in records)
    assert [line for line in log.read_text().splitlines() if " ready." in line and not line.startswith("{")] == []
