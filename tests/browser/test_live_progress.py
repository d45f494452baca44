"""A backfill's progress moves by itself: an admin starts a backfill from the admin and watches its
bar, on the integration's page and on the run's page, reach 100 % without the page being reloaded
(a marker set in each window survives). The run is done by a worker thread, as a Celery worker
would do it, held once in the middle of its push so the bars are seen in progress: nothing waits on
time, every wait is on what the page shows."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import expect

from leads import tasks
from leads.models import SyncRun
from leads.pipeline.push import PendingPush
from mappings.models import Integration
from connectors.models import LeadForm
from sandbox.crm.services import seed_custom_field_names
from tests.browser.screenshots import screenshot
from tests.e2e.conftest import run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CRM_ACCOUNT, CRM_SECRET = "PROGRESS-ACCOUNT", "progress-secret-key-7"
MARK = "window.__leadsyncNotReloaded === true"


@pytest.fixture
def integration(live_server, settings):
    """The sandbox with leads, a CRM and LinkedIn connected through the CLI, the first event form
    enabled; batches of 2, so that the push has several."""
    import json

    settings.LINKEDIN_API_URL = f"{live_server.url}/sandbox/linkedin"
    settings.LINKEDIN_OAUTH_URL = f"{live_server.url}/sandbox/linkedin/oauth/v2"
    settings.LEADGEN_CRM_API_URL = f"{live_server.url}/sandbox/crm/pubapi/v1.2/"
    settings.LEADSYNC_CRM_BATCH_SIZE = 2
    seed_custom_field_names(11)  # the CRM fields enable creates: the same names in every screenshot
    out = StringIO()
    call_command("sandbox_seed", "--leads", "120", "--json", stdout=out)
    t = json.loads(out.getvalue())["tokens"]
    call_command("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET, stdout=StringIO())
    assert run_cli("crm", "add", "crm", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET).code == 0
    assert run_cli("linkedin", "add", "alex", "--access-token", t["access_token"], "--refresh-token",
                   t["refresh_token"], "--expires-in", str(t["expires_in"]), "--refresh-expires-in",
                   str(t["refresh_token_expires_in"])).code == 0
    assert run_cli("discover").code == 0
    form = LeadForm.objects.filter(event__isnull=False).order_by("linkedin_id").first()
    assert run_cli("enable", form.linkedin_id, "--crm", "crm").code == 0
    return Integration.objects.get(form=form)


class HeldWorker:
    """The Celery worker: runs the queued task in a thread, held once in the middle of its push
    (some batches recorded, more to go) until the test releases it. Its pull pushes nothing while
    it reads (PendingPush.stored only counts), so the whole push comes after the pull, where the
    hold is found on every run alike."""

    def __init__(self, monkeypatch):
        self.queued, self.reached, self.release, self.errors = [], threading.Event(), threading.Event(), []
        original = PendingPush._next_batch
        worker = self

        def next_batch(pending, **kwargs):
            run = pending.run
            if (not worker.reached.is_set() and run is not None and run.progress_total
                    and 0 < pending.done < run.progress_total):
                worker.reached.set()
                assert worker.release.wait(60), "the test never released the worker"
            return original(pending, **kwargs)

        def stored(pending, new, leads=()):
            pending.waiting += new

        monkeypatch.setattr(PendingPush, "_next_batch", next_batch)
        monkeypatch.setattr(PendingPush, "stored", stored)
        monkeypatch.setattr(tasks.sync_integration, "delay", lambda *a, **kw: self.queued.append((a, kw)))

    def start(self):
        (args, kwargs), = self.queued
        self.thread = threading.Thread(target=self._run, args=(args, kwargs))
        self.thread.start()

    def _run(self, args, kwargs):
        try:
            tasks.sync_integration(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
        finally:
            connection.close()

    def finish(self):
        self.release.set()
        self.thread.join(60)
        assert not self.thread.is_alive() and not self.errors, self.errors


def bar_value(page, box):
    return page.locator(f"{box} progress").evaluate("bar => bar.hasAttribute('value') ? bar.value : null")


def test_an_admin_watches_a_backfill_reach_100_percent_without_reloading(admin_page, live_server, integration,
                                                                         monkeypatch):
    page, url = admin_page, live_server.url
    worker = HeldWorker(monkeypatch)
    change_url = f"{url}/admin/mappings/integration/{integration.pk}/change/"
    page.goto(change_url)
    expect(page.locator("#mappings-group")).to_be_visible()
    screenshot(page, "integration-with-mapping", scroll_to="#mappings-group")

    page.locator("#backfill-integration").click()
    page.fill("#id_days", "30")
    page.get_by_role("button", name="Start the backfill").click()
    expect(page).to_have_url(change_url)
    expect(page.locator(".messagelist")).to_contain_text("Queued a backfill of the last 30 days")
    expect(page.locator("#integration-progress")).to_contain_text("no run yet")
    page.evaluate("window.__leadsyncNotReloaded = true")

    worker.start()
    assert worker.reached.wait(20), ("the worker's push never got half-way", worker.errors, list(SyncRun.objects.values("state", "trigger", "progress_done", "progress_total", "pulled", "new", "error")))
    run = SyncRun.objects.get(integration=integration, trigger="backfill")
    run.refresh_from_db()
    assert run.state == "running" and 0 < run.progress_done < run.progress_total
    # The integration's bar, loaded before the run existed, shows it in progress: it polls.
    page.wait_for_function(
        f"{MARK} && document.querySelector('#integration-progress').dataset.state === 'running'"
        " && document.querySelector('#integration-progress progress').value > 0"
        " && document.querySelector('#integration-progress progress').value < 100")

    # The run's own page, opened while the run goes.
    run_page = page.context.new_page()
    run_page.goto(f"{url}/admin/leads/syncrun/{run.pk}/change/")
    expect(run_page.locator("#run-progress")).to_contain_text("pushing leads to the CRM")
    assert 0 < bar_value(run_page, "#run-progress") < 100
    run_page.evaluate("window.__leadsyncNotReloaded = true")
    screenshot(run_page, "run-in-progress")

    worker.finish()
    for watched, box in ((page, "#integration-progress"), (run_page, "#run-progress")):
        watched.wait_for_function(
            f"{MARK} && document.querySelector('{box}').dataset.state === 'succeeded'"
            f" && document.querySelector('{box} progress').value === 100")
        expect(watched.locator(f"{box} .ls-progress-percent")).to_have_text("100 %")
        assert watched.evaluate(MARK), "the page was reloaded"
    run.refresh_from_db()
    assert run.state == "succeeded" and run.progress_done == run.progress_total
    expect(run_page.locator("#run-progress")).to_contain_text(f"{run.progress_total}/{run.progress_total} leads")
