"""The product as it runs in production, in separate processes the tests can SIGKILL: the web
process (`manage.py runserver`, serving the sandbox's LinkedIn and CRM over real HTTP) and real
`celery -A leadsync_project worker` processes, on a database of their own on the private PostgreSQL
server of `make test` and on its private Redis.

The tests watch it from outside, as an operator would: SQL on its database, HTTP to the sandbox,
tasks sent through the broker. Nothing here sleeps for timing: every wait polls a condition."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
CRM_ACCOUNT, CRM_SECRET = "KILLS-ACCOUNT", "kills-secret-key-123"


def wait_for(what, condition, *, timeout=60.0, on_timeout=lambda: ""):
    """Poll `condition` until it returns something true, and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{on_timeout()}")
        time.sleep(0.005)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


class Worker:
    """One `celery -A leadsync_project worker` (prefork, `concurrency` pool children, one unless told)
    and its log; on every queue, as one started without -Q is, unless `queues` names some. Its
    hostname is NAME@DOMAIN."""

    def __init__(self, stack, name, queues=None, concurrency=1, domain="kills"):
        self.name = name
        self.hostname = f"{name}@{domain}"
        self.log = stack.dir / f"worker-{name}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "leadsync_project", "worker", "--pool", "prefork",
                 "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--hostname", self.hostname, "--loglevel", "INFO"]
                + (["-Q", ",".join(queues)] if queues else []),
                cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, mark=0):
        wait_for(f"worker {self.name} ready", lambda: b" ready." in self.log.read_bytes()[mark:] or self._died(),
                 on_timeout=self.tail)
        assert self.process.poll() is None, f"worker {self.name} died at start\n{self.tail()}"

    def _died(self):
        return self.process.poll() is not None

    def child(self):
        """The pid of the pool child (the process running the task), once there is one."""
        return wait_for(f"worker {self.name}'s pool child", lambda: (_children(self.process.pid) or [None])[0],
                        on_timeout=self.tail)

    def kill_child(self):
        """SIGKILL the pool child: the worker sees it lost and gives the task back to the broker."""
        pid = self.child()
        os.kill(pid, signal.SIGKILL)
        wait_for("the pool child to die", lambda: not _alive(pid))

    def kill(self):
        """SIGKILL the whole worker, its main process and its pool child, as a machine that dies."""
        children = _children(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        wait_for("the pool children to die", lambda: not any(_alive(pid) for pid in children))

    def stop(self):
        if self.process.poll() is None:
            self.kill()

    def tail(self, lines=40):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """A dedicated database, the web process and the broker; workers are started with `worker()`."""

    def __init__(self, directory, *, postgres_url, redis_url, lock_ttl, page_size, batch_size):
        self.dir = Path(directory)
        self.lock_ttl = lock_ttl
        self.database = f"leadsync_kills_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(postgres_url)
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.database_url = urlunsplit(parts._replace(path=f"/{self.database}"))
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        broker = urlunsplit(urlsplit(redis_url)._replace(path="/7"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "leadsync_project.settings",
            "LEADSYNC_ENV_FILE": str(self.dir / "no-such.env"),
            "DEBUG": "1", "LEADSYNC_SANDBOX": "1", "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker,
            "LINKEDIN_API_URL": f"{self.url}/sandbox/linkedin",
            "LINKEDIN_OAUTH_URL": f"{self.url}/sandbox/linkedin/oauth/v2",
            "LEADGEN_CRM_API_URL": f"{self.url}/sandbox/crm/pubapi/v1.2/",
            "LINKEDIN_CLIENT_ID": "kills-client-id", "LINKEDIN_CLIENT_SECRET": "kills-client-secret",
            # A short lease keeps the test fast; production's is two minutes (test_the_lease_is_two_minutes).
            "LEADSYNC_LOCK_TTL_SECONDS": str(lock_ttl),
            # Every sync pulls only what is new since the last one (the overlap is for LinkedIn's late leads).
            "LEADSYNC_PULL_OVERLAP_MINUTES": "0",
            "LINKEDIN_PAGE_SIZE": str(page_size), "LEADSYNC_CRM_BATCH_SIZE": str(batch_size),
            "LEADSYNC_RETRY_BASE_DELAY": "0.05", "LEADSYNC_RETRY_MAX_DELAY": "0.2",
            "LOG_LEVEL": "INFO",
        }
        # The suite's own CELERY_BROKER_URL (tests/settings.py) would win over `broker=`: the
        # connection is given explicitly wherever a task is sent.
        self.broker = broker
        self.celery = Celery("kills", broker=broker, backend=broker, set_as_current=False)
        self.celery.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
        self.db = None
        self.server = None
        self.workers = []
        self.manage("migrate", "--noinput")
        self.db = psycopg.connect(self.database_url, autocommit=True)
        with open(self.dir / "server.log", "ab") as log:
            self.server = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for("the web process", self._serving)
        self.facts = json.loads(self.manage("shell", "-c", SETUP).stdout.strip().splitlines()[-1])

    def _serving(self):
        assert self.server.poll() is None, (self.dir / "server.log").read_text()
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine: ask again
            return False

    def manage(self, *args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done

    def worker(self, name, queues=None):
        worker = Worker(self, name, queues)
        self.workers.append(worker)
        return worker

    # --- what the tests do, over the broker and HTTP ---------------------------------------------

    def sync(self, trigger="manual"):
        """Queue a sync of the integration, as beat or the admin's "sync now" does."""
        with self.celery.connection_for_write(self.broker) as connection:
            return self.celery.send_task("leads.sync_integration", args=[self.facts["integration"]],
                                         kwargs={"trigger": trigger}, connection=connection)

    def result(self, async_result, timeout=90):
        """The task's return value once it has one (a task given back by a lost worker runs again)."""
        wait_for(f"task {async_result.id}", lambda: async_result.state == "SUCCESS", timeout=timeout,
                 on_timeout=lambda: "\n".join(w.tail() for w in self.workers))
        return async_result.result

    def submit_leads(self, count):
        """Members register for the event on LinkedIn (the sandbox)."""
        while count:
            n = min(count, 500)
            response = requests.post(f"{self.url}/sandbox/linkedin/_leads", json={"event": self.facts["event"],
                                     "count": n}, timeout=60)
            assert response.status_code == 201, response.text
            count -= n

    def crm_faults(self, **switches):
        response = requests.post(f"{self.url}/sandbox/crm/_faults", json={"account_id": CRM_ACCOUNT, **switches},
                                 timeout=10)
        assert response.status_code == 200, response.text

    # --- what the tests read, in SQL --------------------------------------------------------------

    def value(self, sql, *params):
        return self.db.execute(sql, params).fetchone()[0]

    def rows(self, sql, *params):
        return self.db.execute(sql, params).fetchall()

    def count_leads(self, state=None):
        if state:
            return self.value("SELECT count(*) FROM leads_lead WHERE integration_id = %s AND state = %s",
                              self.facts["integration"], state)
        return self.value("SELECT count(*) FROM leads_lead WHERE integration_id = %s", self.facts["integration"])

    def lease_left(self):
        """Seconds left of the integration's lock, None when nobody holds it."""
        return self.value("SELECT extract(epoch FROM locked_until - now()) FROM mappings_integration WHERE id = %s",
                          self.facts["integration"])

    def close(self):
        for worker in self.workers:
            worker.stop()
        if self.server and self.server.poll() is None:
            self.server.kill()
            self.server.wait(timeout=30)
        if self.db:
            self.db.close()
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


# Run by `manage.py shell -c` on the stack's database once the web process serves the sandbox: a CRM
# account and a LinkedIn member (the sandbox), connected, discovered and the first event form enabled,
# exactly as an admin does it from the CLI. Prints the ids the tests need, as JSON.
SETUP = f"""
import json
from io import StringIO
from django.core.management import call_command
from connectors.models import LeadForm
from mappings.models import Integration
from sandbox.linkedin.models import Event

out = StringIO()
call_command("sandbox_seed", "--leads", "0", "--json", stdout=out)
t = json.loads(out.getvalue())["tokens"]
call_command("sandbox_crm_account", "--account-id", "{CRM_ACCOUNT}", "--secret-key", "{CRM_SECRET}",
             "--per-second-limit", "0", "--daily-limit", "0", stdout=StringIO())
quiet = dict(stdout=StringIO(), stderr=StringIO())
call_command("leadsync", "crm", "add", "crm", "--account-id", "{CRM_ACCOUNT}", "--secret-key", "{CRM_SECRET}", **quiet)
call_command("leadsync", "linkedin", "add", "alex", "--access-token", t["access_token"], "--refresh-token",
             t["refresh_token"], "--expires-in", str(t["expires_in"]), "--refresh-expires-in",
             str(t["refresh_token_expires_in"]), **quiet)
call_command("leadsync", "discover", **quiet)
form = LeadForm.objects.filter(event__isnull=False).order_by("linkedin_id").first()
call_command("leadsync", "enable", form.linkedin_id, "--crm", "crm", **quiet)
event = Event.objects.filter(lead_form_id=int(form.linkedin_id)).order_by("id").first()
print(json.dumps({{"integration": Integration.objects.get(form=form).pk, "form": int(form.linkedin_id),
                  "event": event.id}}))
"""
