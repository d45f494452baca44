"""A LeadSync fleet on one machine, in real processes: the web process under gunicorn (serving the
sandbox's LinkedIn and CRM over real HTTP too), one `celery beat` and any number of `celery worker`
processes, on a database of its own on a real PostgreSQL server and on a real Redis (broker, result
backend, the fleet's rate limits and beat's lease). Used by tests/e2e/test_scale_out.py and
bench/workers.py.

The sandbox holds `forms` published forms over `owners` owners (sandbox_seed --owners/--forms), each
enabled as an integration into one of `accounts` sandbox CRM accounts (each owner's forms spread over
every account, so that different owners' syncs push into the same accounts), every account
limited to `per_second_limit` calls a second (error 107 beyond), as the real CRM is. With `slow_account`,
the first event form is enabled too, into an account of its own whose every answer takes
`slow_answer_ms`, and not scheduled: a backfill of it holds a sync worker as long as wanted.

Nothing here sleeps for timing: every wait polls a condition (worker_stack.wait_for)."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis as redis_py
import requests
from celery import Celery

from tests.e2e.worker_stack import ROOT, Worker, _free_port, wait_for

SECRET = "fleet-secret-key-123"
CLIENT_SECRET = "fleet-client-secret"
SLOW_ACCOUNT = "FLEET-SLOW"


def account_id(n):
    return f"FLEET-{n:02d}"


class Fleet:
    def __init__(self, directory, *, postgres_url, redis_url, owners, forms, accounts, form_leads=0,
                 per_second_limit=10, every_seconds=None, page_size=100, batch_size=100, slow_account=False,
                 slow_answer_ms=0, redis_db=8, gunicorn_workers=2, gunicorn_threads=8, extra_env=None,
                 template=None):
        """With `template` (another Fleet's `facts`, `database` and settings, after `detach()`), a copy of
        that fleet's database is served instead of a new one set up: the same sandbox and integrations,
        nothing synced yet (served on the template's port, which the stored connections name)."""
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.database = f"leadsync_fleet_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(postgres_url)
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.database_url = urlunsplit(parts._replace(path=f"/{self.database}"))
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            copy = f' TEMPLATE "{template.database}"' if template else ""
            admin.execute(f'CREATE DATABASE "{self.database}"{copy}')
        self.broker = urlunsplit(urlsplit(redis_url)._replace(path=f"/{redis_db}"))
        self.redis = redis_py.Redis.from_url(self.broker)
        self.redis.flushdb()  # nothing left in the queues, the limits or beat's lease by an earlier fleet
        # A copy serves on its template's port: the stored connections name the sandbox's address.
        self.port = template.port if template else _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "leadsync_project.settings",
            "LEADSYNC_ENV_FILE": str(self.dir / "no-such.env"),
            "DEBUG": "1", "LEADSYNC_SANDBOX": "1", "DATABASE_URL": self.database_url,
            # One Redis for everything, as in production: broker, results, the CRM's limits, beat's lease
            # (LEADSYNC_TEST_FLEET_LIMITS=off: each process keeps the limits alone, as before the fleet limiter).
            "CELERY_BROKER_URL": self.broker, "CELERY_RESULT_BACKEND": self.broker,
            "LEADSYNC_RATE_LIMIT_REDIS_URL": os.environ.get("LEADSYNC_TEST_FLEET_LIMITS", self.broker),
            "LINKEDIN_API_URL": f"{self.url}/sandbox/linkedin",
            "LINKEDIN_OAUTH_URL": f"{self.url}/sandbox/linkedin/oauth/v2",
            "LEADGEN_CRM_API_URL": f"{self.url}/sandbox/crm/pubapi/v1.2/",
            "LINKEDIN_CLIENT_ID": "fleet-client-id", "LINKEDIN_CLIENT_SECRET": CLIENT_SECRET,
            "LEADSYNC_PULL_OVERLAP_MINUTES": "0",
            "LINKEDIN_PAGE_SIZE": str(page_size), "LEADSYNC_CRM_BATCH_SIZE": str(batch_size),
            "LEADSYNC_RETRY_BASE_DELAY": "0.05", "LEADSYNC_RETRY_MAX_DELAY": "0.2",
            "LOG_LEVEL": "INFO",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": str(gunicorn_workers),
            "GUNICORN_THREADS": str(gunicorn_threads),
            # Threads' persistent connections would add up to PostgreSQL's 100 connections.
            "CONN_MAX_AGE": "0",
            **(extra_env or {}),
        }
        self.celery = Celery("fleet", broker=self.broker, backend=self.broker, set_as_current=False)
        self.celery.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
        self.db = None
        self.server = self.beat = None
        self.workers = []
        if not template:
            self.manage("migrate", "--noinput", "-v0")
        self.db = psycopg.connect(self.database_url, autocommit=True)
        self.server_log = self.dir / "gunicorn.log"
        with open(self.server_log, "ab") as log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "leadsync_project/gunicorn.conf.py"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for("gunicorn to serve", self._serving, timeout=90, on_timeout=lambda: self.server_log.read_text())
        if template:
            self.facts = template.facts
            return
        setup = SETUP.format(owners=owners, forms=forms, form_leads=form_leads, accounts=accounts,
                             limit=per_second_limit, every_seconds=every_seconds or 0, slow=slow_account,
                             slow_ms=slow_answer_ms, slow_account=SLOW_ACCOUNT, secret=SECRET)
        self.facts = json.loads(self.manage("shell", "--no-imports", "-c", setup).stdout.strip().splitlines()[-1])

    def _serving(self):
        assert self.server.poll() is None, self.server_log.read_text()
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def manage(self, *args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done

    # --- processes ------------------------------------------------------------------------------

    def worker(self, name, queues=None, concurrency=1):
        worker = Worker(self, name, queues=queues, concurrency=concurrency, domain="fleet")
        self.workers.append(worker)
        return worker

    def start_beat(self):
        self.beat_log = self.dir / "beat.log"
        with open(self.beat_log, "ab") as log:
            self.beat = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "leadsync_project", "beat", "--loglevel", "INFO",
                 "--pidfile", str(self.dir / "beat.pid"), "--schedule", str(self.dir / "beat-schedule")],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop_beat(self):
        """Stop beat (SIGTERM: it gives its lease back) and wait until the workers have done what it sent."""
        self.beat.terminate()
        self.beat.wait(timeout=60)
        wait_for("the queues to drain", self.idle, timeout=180)

    def idle(self):
        """Nothing queued, nothing taken and not yet acknowledged, no run running."""
        queued = sum(self.redis.llen(queue) for queue in ("sync", "webhooks", "push", "maintenance", "celery"))
        return not queued and not self.redis.hlen("unacked") and not self.value(
            "SELECT count(*) FROM leads_syncrun WHERE state = 'running'")

    def beat_sent(self, task="leads.sync_integration"):
        """How many tasks beat has sent (from its log: "Scheduler: Sending due task ... (task)")."""
        return self.beat_log.read_text(errors="replace").count(f"({task})")

    # --- what is done from outside ---------------------------------------------------------------

    def submit(self, form, count=1):
        """Members submit a lead form on LinkedIn (the sandbox); returns the leads as the sandbox lists them."""
        response = requests.post(f"{self.url}/sandbox/linkedin/_leads", json={"form": int(form), "count": count},
                                 timeout=120)
        assert response.status_code == 201, response.text
        return response.json()["created"]

    def notify(self, lead):
        """LinkedIn's lead notification of `lead`, signed with the app's client secret, POSTed to the webhook."""
        body = {"type": "LEAD_ACTION", "leadGenFormResponse": f"urn:li:leadGenFormResponse:{lead['id']}",
                "leadGenForm": lead.get("versionedLeadGenFormUrn") or lead["form"], "owner": lead["owner"],
                "leadType": lead["leadType"], "leadAction": "CREATED", "occurredAt": int(time.time() * 1000)}
        if lead.get("associatedEntity"):
            body["associatedEntity"] = lead["associatedEntity"]
        raw = json.dumps(body, separators=(",", ":")).encode()
        signature = hmac.new(CLIENT_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        response = requests.post(f"{self.url}/linkedin/webhook/", data=raw, timeout=30,
                                 headers={"Content-Type": "application/json", "X-LI-Signature": signature})
        assert response.status_code == 200 and response.json()["status"] == "accepted", response.text

    def send(self, name, *args, queue=None, **kwargs):
        with self.celery.connection_for_write(self.broker) as connection:
            return self.celery.send_task(name, args=list(args), kwargs=kwargs, queue=queue, connection=connection)

    def crm_faults(self, account, **switches):
        response = requests.post(f"{self.url}/sandbox/crm/_faults", json={"account_id": account, **switches},
                                 timeout=30)
        assert response.status_code == 200, response.text

    # --- what is read, in SQL and in Redis --------------------------------------------------------

    def value(self, sql, *params):
        return self.db.execute(sql, params).fetchone()[0]

    def rows(self, sql, *params):
        return self.db.execute(sql, params).fetchall()

    def task_worker(self, task_id):
        """The hostname of the worker that ran the task (the result backend's extended result), or None."""
        raw = self.redis.get(f"celery-task-meta-{task_id}")
        return json.loads(raw).get("worker") if raw else None

    def detach(self):
        """Stop every process and let go of the database, keeping it: a template for other fleets."""
        self._stop_processes()
        self.db.close()
        self.db = None

    def drop(self):
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _stop_processes(self):
        for worker in self.workers:
            worker.stop()
        for process in (self.beat, self.server):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)

    def close(self):
        self._stop_processes()
        if self.db:
            self.db.close()
        self.drop()


# Run by `manage.py shell -c` once gunicorn serves the sandbox: the sandbox seeded with the scale owners
# and forms, the CRM accounts (with the real CRM's per-second limit), LinkedIn and the CRM connected,
# discovered, and every scale form enabled round robin into the accounts, every minute (the shortest an
# integration takes); with every_seconds, their beat entries are then shortened to that many seconds, as
# an operator may edit an entry in the admin. Prints the ids the callers need, as JSON.
SETUP = """
import json
from io import StringIO
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from connectors.models import CrmConnection, LeadForm
from leads.integrations import integration_enable
from mappings.models import Integration
from sandbox.linkedin.models import Event

quiet = dict(stdout=StringIO(), stderr=StringIO())
out = StringIO()
call_command("sandbox_seed", "--leads", "0", "--days", "30", "--unique-people", "--owners", "{owners}",
             "--forms", "{forms}", "--form-leads", "{form_leads}", "--json", stdout=out)
t = json.loads(out.getvalue())["tokens"]
call_command("leadsync", "linkedin", "add", "fleet", "--access-token", t["access_token"], "--refresh-token",
             t["refresh_token"], "--expires-in", str(t["expires_in"]), "--refresh-expires-in",
             str(t["refresh_token_expires_in"]), **quiet)
accounts = []
for n in range({accounts}):
    account = f"FLEET-{{n:02d}}"
    call_command("sandbox_crm_account", "--account-id", account, "--secret-key", "{secret}",
                 "--per-second-limit", "{limit}", "--daily-limit", "0", **quiet)
    call_command("leadsync", "crm", "add", f"crm-{{n:02d}}", "--account-id", account, "--secret-key", "{secret}",
                 **quiet)
    accounts.append(CrmConnection.objects.get(name=f"crm-{{n:02d}}"))
call_command("leadsync", "discover", **quiet)
forms = list(LeadForm.objects.filter(name__startswith="Scale form ").order_by("linkedin_id"))
integrations = {{}}
for k, form in enumerate(forms):
    # The forms go round robin over the owners (sandbox_seed), so form k is owner k mod {owners}'s: each
    # owner's integrations go into every account, and syncs of different owners push into the same ones.
    crm = accounts[(k // {owners}) % len(accounts)]
    integrations[integration_enable(form=form, crm_connection=crm, every=1).pk] = {{
        "form": int(form.linkedin_id), "account": crm.account_id}}
slow = None
if {slow}:
    call_command("sandbox_crm_account", "--account-id", "{slow_account}", "--secret-key", "{secret}",
                 "--per-second-limit", "{limit}", "--daily-limit", "0", **quiet)
    call_command("leadsync", "crm", "add", "crm-slow", "--account-id", "{slow_account}", "--secret-key", "{secret}",
                 **quiet)
    form = LeadForm.objects.filter(event__isnull=False).order_by("linkedin_id").first()
    integration = integration_enable(form=form, crm_connection=CrmConnection.objects.get(name="crm-slow"), every=1)
    # Not scheduled: only the backfill the caller queues pulls it.
    PeriodicTask.objects.filter(task="leads.sync_integration", args=json.dumps([integration.pk])).update(enabled=False)
    from sandbox.crm.models import CrmAccount, CrmFault
    CrmFault.objects.update_or_create(account=CrmAccount.objects.get(account_id="{slow_account}"),
                                      defaults={{"slow_answer_ms": {slow_ms}}})
    slow = {{"integration": integration.pk, "form": int(form.linkedin_id),
            "event": Event.objects.filter(lead_form_id=int(form.linkedin_id)).order_by("id").first().id}}
if {every_seconds}:
    short, _ = IntervalSchedule.objects.get_or_create(every={every_seconds}, period=IntervalSchedule.SECONDS)
    entries = PeriodicTask.objects.filter(task="leads.sync_integration", enabled=True)
    entries.update(interval=short)
    PeriodicTask.objects.filter(task="leads.sync_integration").update(last_run_at=None)
    from django_celery_beat.models import PeriodicTasks
    PeriodicTasks.update_changed()
print(json.dumps({{"integrations": integrations, "slow": slow,
                  "owners": len({{f.owner_id for f in forms}})}}))
"""
