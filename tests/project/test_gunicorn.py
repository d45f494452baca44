"""The production web process for real: gunicorn with leadsync_project/gunicorn.conf.py and two
workers on a loopback port, over the test database. Prometheus's scrape of /metrics parses and
says what the database holds; the access log is JSON with the request id and without the query
string."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from leads.models import Lead
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-gunicorn-test"


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url():
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = f"{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@" if db.get("USER") else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _get(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadsync_project.settings",
           "LEADSYNC_ENV_FILE": str(tmp_path / "no-such.env"), "DEBUG": "1", "DATABASE_URL": _database_url(),
           "CELERY_BROKER_URL": "memory://", "LEADSYNC_METRICS_TOKEN": TOKEN, "LEADSYNC_LOG_FORMAT": "json",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "LEADSYNC_SANDBOX": "1"}
    out, err = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "leadsync_project/gunicorn.conf.py"],
                                   cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, err.read_text()
            try:
                if _get(f"{base}/healthz")[0] in (200, 503):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer\n{err.read_text()}"
            time.sleep(0.05)
        yield base, out, err
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_gunicorn_serves_a_metrics_scrape_that_prometheus_parses(gunicorn):
    base, out, err = gunicorn
    integration = factories.integration(name="Live form")
    for state in (Lead.State.SYNCED, Lead.State.SYNCED, Lead.State.FAILED):
        factories.lead(integration, state=state)

    assert _get(f"{base}/metrics")[0] == 403
    status, headers, body = _get(f"{base}/metrics?code=QUERYSECRET", Authorization=f"Bearer {TOKEN}",
                                 **{"X-Request-ID": "scrape-1"})
    assert status == 200 and headers["X-Request-ID"] == "scrape-1"
    samples = {(s.name, s.labels.get("integration"), s.labels.get("state")): s.value
               for family in text_string_to_metric_families(body) for s in family.samples}
    assert samples[("leadsync_leads", str(integration.pk), "synced")] == 2
    assert samples[("leadsync_leads", str(integration.pk), "failed")] == 1

    access = []
    deadline = time.monotonic() + 10
    while not any(r.get("request_id") == "scrape-1" for r in access):
        access = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.05)
    line = next(r for r in access if r.get("request_id") == "scrape-1")
    assert (line["logger"], line["method"], line["path"], line["status"]) == ("gunicorn.access", "GET", "/metrics", 200)
    assert "QUERYSECRET" not in out.read_text() + err.read_text()
    assert TOKEN not in out.read_text() + err.read_text()
    assert all(json.loads(line) for line in err.read_text().splitlines() if line.strip())  # every error line is JSON
