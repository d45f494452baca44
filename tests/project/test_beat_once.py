"""Beat runs once (issue 12): two real `celery beat` processes on one Redis and one database, and only
the one holding the beat lease sends the schedule; the second waits and takes over when the first
stops. What was sent is read from the broker's queue itself (each message names the process that
sent it), so a doubled schedule would show there."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from leadsync_project.beat import LOCK_KEY, BeatLease, GuardedDatabaseScheduler

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(what, condition, timeout=60.0, on_timeout=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{on_timeout()}")
        time.sleep(0.02)


@pytest.fixture
def beat_redis(redis_url):
    """A Redis database of its own (the queue is read whole), emptied before and after."""
    url = urlunsplit(urlsplit(redis_url)._replace(path="/12"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url, client
    client.flushdb()


def _sent_pings(client):
    """The origin (`gen<pid>@host`) of each leadsync.ping message waiting in the default queue, oldest
    first (kombu pushes on the left)."""
    origins = []
    for raw in reversed(client.lrange("celery", 0, -1)):
        message = json.loads(raw)
        if message["headers"].get("task") == "leadsync.ping":
            origins.append(message["headers"].get("origin", ""))
    return origins


class Beat:
    def __init__(self, tmp_path, name, url, ttl=10):
        db = settings.DATABASES["default"]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadsync_project.settings", "DEBUG": "1",
               "LEADSYNC_ENV_FILE": str(tmp_path / "no-such.env"), "CELERY_BROKER_URL": url,
               "CELERY_RESULT_BACKEND": url, "LEADSYNC_BEAT_LOCK_TTL_SECONDS": str(ttl)}
        if db["ENGINE"].endswith("sqlite3"):
            env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
        else:
            env["DATABASE_URL"] = (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
                                   if db["PASSWORD"] else f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
        self.log = tmp_path / f"beat-{name}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "leadsync_project", "beat", "--loglevel", "INFO",
                 "--pidfile=", "--schedule", str(tmp_path / f"beat-{name}.db")],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.origin = f"gen{self.process.pid}@"

    def text(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        """SIGTERM, as systemd stops it; a beat that does not stop is killed (never left running) and fails the test."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
                raise AssertionError(f"beat did not stop on SIGTERM\n{self.text()[-3000:]}") from None


def test_a_second_beat_waits_and_sends_nothing_until_the_first_stops(beat_redis, tmp_path):
    url, client = beat_redis
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="beat once: ping", task="leadsync.ping", interval=every)
    PeriodicTask.objects.create(name="beat once: heartbeat", task="connectors.heartbeat", interval=every)
    first = Beat(tmp_path, "first", url)
    second = None
    try:
        _wait_for("the first beat to send", lambda: _sent_pings(client), on_timeout=first.text)
        assert all(o.startswith(first.origin) for o in _sent_pings(client)), (_sent_pings(client), first.text())
        second = Beat(tmp_path, "second", url)
        _wait_for("the second beat to say it waits", lambda: "holds the beat lease: this one waits" in second.text(),
                  on_timeout=second.text)
        sent_before = len(_sent_pings(client))
        # Several more of the schedule's ticks, with both beats running: every one from the first.
        _wait_for("three more ticks", lambda: len(_sent_pings(client)) >= sent_before + 3, on_timeout=first.text)
        origins = _sent_pings(client)
        assert all(o.startswith(first.origin) for o in origins), (origins, second.text())
        assert second.process.poll() is None

        first.stop()  # a clean stop gives the lease back: the second takes over at its next ask
        sent_before = len(_sent_pings(client))
        _wait_for("the second beat to take over",
                  lambda: any(o.startswith(second.origin) for o in _sent_pings(client)[sent_before:]),
                  on_timeout=second.text)
        assert "holds the beat lease and sends the schedule" in second.text()
        assert not any(o.startswith(first.origin) for o in _sent_pings(client)[sent_before:])
    finally:
        first.stop()
        if second:
            second.stop()
    assert client.get(LOCK_KEY) is None  # the last beat gave its lease back too
    # What beat sends is routed by task name like any task: the heartbeat to `maintenance`.
    heartbeats = [json.loads(raw)["headers"]["task"] for raw in client.lrange("maintenance", 0, -1)]
    assert heartbeats and set(heartbeats) == {"connectors.heartbeat"}
    assert not any(json.loads(raw)["headers"]["task"] == "connectors.heartbeat" for raw in client.lrange("celery", 0, -1))


def test_when_the_beat_holding_the_lease_dies_the_waiting_one_takes_over_once_it_runs_out(beat_redis, tmp_path):
    url, client = beat_redis
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="beat once: ping", task="leadsync.ping", interval=every)
    first = Beat(tmp_path, "first", url, ttl=3)
    second = None
    try:
        _wait_for("the first beat to send", lambda: _sent_pings(client), on_timeout=first.text)
        second = Beat(tmp_path, "second", url, ttl=3)
        _wait_for("the second beat to wait", lambda: "holds the beat lease: this one waits" in second.text(),
                  on_timeout=second.text)
        first.process.kill()  # SIGKILL: no lease given back; it runs out after its 3 s
        first.process.wait(timeout=30)
        sent_before = len(_sent_pings(client))
        _wait_for("the second beat to take over",
                  lambda: any(o.startswith(second.origin) for o in _sent_pings(client)[sent_before:]),
                  on_timeout=second.text)
        assert not any(o.startswith(first.origin) for o in _sent_pings(client)[sent_before:])
    finally:
        first.stop()
        if second:
            second.stop()


def test_a_beat_that_lost_its_lease_sends_nothing(beat_redis):
    url, client = beat_redis
    mine, other = BeatLease(url, 10), BeatLease(url, 10)
    assert mine.hold() and not other.hold()
    client.delete(LOCK_KEY)  # the lease ran out (a paused process) and another beat took it
    assert other.hold()
    assert not mine.hold() and not mine.held
    other.release()
    assert mine.hold()
    mine.release()
    assert client.get(LOCK_KEY) is None


def test_beat_is_guarded_by_default(settings):
    from leadsync_project.celery import app
    from django.utils.module_loading import import_string

    assert issubclass(import_string(settings.CELERY_BEAT_SCHEDULER.replace(":", ".")), GuardedDatabaseScheduler)
    assert app.conf.beat_scheduler == settings.CELERY_BEAT_SCHEDULER


def test_the_lease_lives_in_the_brokers_redis_unless_told_otherwise(settings, monkeypatch):
    from leadsync_project.beat import lock_url
    from leadsync_project.celery import app

    settings.LEADSYNC_BEAT_LOCK_URL = ""
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")  # Celery reads the broker from it first
    assert lock_url(app) == "redis://127.0.0.1:6379/3"
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    assert lock_url(app) == ""  # nothing to hold a lease in: beat runs unguarded, and says so
    settings.LEADSYNC_BEAT_LOCK_URL = "redis://10.0.0.5:6379/1"
    assert lock_url(app) == "redis://10.0.0.5:6379/1"
