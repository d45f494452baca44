"""Fault storms, end to end at the sandbox over real HTTP: one storm a test, each switched on at the
sandbox (or at the socket, by a loopback proxy in front of it) during a real `leadsync sync`.

Each ends the same way: every sandbox lead is in the sandbox CRM exactly once, by e-mail, and the
run's record says what happened. A storm the retry budget absorbs ends in a run that succeeded; one
that outlasts it ends the run failed with a reason and no secret, at once (no hang), after a bounded
number of attempts, with the watermark where it was; the next sync, the storm over, heals it.

Retries never wait here (tests/settings.py sets the backoff to 0); the client's read timeout is cut to
a quarter of a second where a storm stalls.
"""

import re
import select
import socket
import struct
import threading
import time
from collections import Counter

import pytest

from connectors.http import DEFAULT_TIMEOUT, RetryPolicy
from leads.models import Lead, SyncRun
from leads.pipeline import pull
from mappings.models import Integration
from sandbox.crm.models import CrmAccount, CrmCall, CrmLead
from sandbox.linkedin import models as li
from sandbox.linkedin import switches
from tests.e2e.conftest import CRM_ACCOUNT, CRM_SECRET, crm_fault

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EMAIL_FIELDS = ("EMAIL", "WORK_EMAIL")
STALL_TIMEOUT = (2.0, 0.25)  # connect, read: what a stalled answer waits for, in these tests


# --- what every storm ends with ---------------------------------------------------------------------


def sandbox_email(lead: li.Lead) -> str:
    """The e-mail a sandbox lead answered, read from the sandbox's own rows (not LeadSync's)."""
    kinds = {q["questionId"]: q.get("predefinedField") for q in lead.form_version.questions}
    found = {kinds[a["questionId"]]: a.get("text", "") for a in lead.answers
             if kinds.get(a["questionId"]) in EMAIL_FIELDS}
    return (found.get("EMAIL") or found.get("WORK_EMAIL") or "").strip().lower()


def sandbox_leads(integration):
    """The form's real (not test) leads on the sandbox LinkedIn, in the window the syncs covered."""
    since = SyncRun.objects.filter(integration=integration).earliest("pk").window_start
    return list(li.Lead.objects.filter(form_version__form_id=int(integration.form.linkedin_id), test_lead=False,
                                       submitted_at__gte=since).select_related("form_version"))


def assert_every_lead_once(integration):
    """Every sandbox lead stored once and synced, and every one of their e-mails exactly once in the
    sandbox CRM, none missing, none doubled, nothing else there."""
    leads = sandbox_leads(integration)
    assert len(leads) >= 10, "the storm needs leads to blow through"
    stored = dict(Lead.objects.filter(integration=integration).values_list("linkedin_id", "state"))
    assert {lead.id for lead in leads} <= set(stored), "none missing at LeadSync"
    assert {stored[lead.id] for lead in leads} == {"synced"}, "every one pushed"
    expected = {sandbox_email(lead) for lead in leads}
    in_crm = Counter(CrmLead.objects.filter(account__account_id=CRM_ACCOUNT).values_list("email_lower", flat=True))
    assert set(in_crm) == expected, "none missing in the CRM, nothing else there"
    assert set(in_crm.values()) == {1}, "none doubled"


def assert_failed_cleanly(result, *expected, secrets=()):
    """The sync ended at once with exit 1, its run failed saying why (the words in `expected`), and
    neither the CLI nor the run shows a secret."""
    assert result.code == 1, result.out + result.err
    run = SyncRun.objects.latest("pk")
    assert run.state == "failed" and run.finished_at
    assert result.json["runs"][0]["error"] == run.error
    for words in expected:
        assert words in run.error, run.error
        assert words in result.json["error"]
    tokens = li.AccessToken.objects.values_list("token", flat=True)
    for secret in [CRM_SECRET, *secrets, *tokens]:
        assert secret not in run.error and secret not in result.out + result.err
    assert not SyncRun.objects.filter(state="running").exists()
    return run


def assert_nothing_half_recorded(integration):
    """The watermark has not moved (the window was not all stored), and nothing stored failed or was
    pushed twice."""
    assert Integration.objects.get(pk=integration.pk).watermark is None
    assert not Lead.objects.filter(integration=integration, state="failed").exists()
    emails = list(CrmLead.objects.values_list("email_lower", flat=True))
    assert len(emails) == len(set(emails))


def assert_the_next_run_heals_it(cli, integration, *command):
    """The storm over, the next sync (or `command`) succeeds and leaves every lead once."""
    result = cli(*(command or ("sync",)), "--json")
    assert result.code == 0, result.out + result.err
    assert_every_lead_once(integration)


def attempts(settings):
    return settings.LEADSYNC_RETRY_ATTEMPTS


# --- LinkedIn storms at the sandbox --------------------------------------------------------------------


def linkedin_faults(**changes):
    return switches.settings_update(changes=changes)["settings"]


def after_the_first_page(monkeypatch, switch_on):
    """Call `switch_on()` once the pull has committed its first page: the storm breaks mid-pull.
    The pull reads one page at a time here: pages read ahead before the storm would be kept too,
    as many as the fetching thread got to (tests/connectors/test_ahead.py covers reading ahead)."""
    from django.conf import settings
    monkeypatch.setattr(settings, "LEADSYNC_PULL_PAGES_AHEAD", 0)
    store = pull.leads_store
    pages = []

    def store_then_storm(**kwargs):
        stored = store(**kwargs)
        pages.append(1)
        if len(pages) == 1:
            switch_on()
        return stored

    monkeypatch.setattr(pull, "leads_store", store_then_storm)
    return pages


@pytest.fixture
def waits(monkeypatch, settings):
    """The retry policy's real backoff (1 s doubling, 60 s cap, Retry-After honoured), recorded
    instead of slept."""
    settings.LEADSYNC_RETRY_BASE_DELAY, settings.LEADSYNC_RETRY_MAX_DELAY = 1.0, 60.0
    recorded = []
    monkeypatch.setattr("connectors.clients.RetryPolicy", lambda **kw: RetryPolicy(sleep=recorded.append, **kw))
    return recorded


@pytest.mark.parametrize("retry_after", [7, None], ids=["with-retry-after", "without-retry-after"])
def test_linkedin_429s_within_the_retry_budget_are_waited_out(cli, event_integration, waits, retry_after):
    linkedin_faults(throttle=3, retry_after=retry_after)

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    assert linkedin_faults()["throttle_remaining"] == 0
    assert len(waits) == 3
    if retry_after:
        assert waits == [7.0, 7.0, 7.0], "Retry-After honoured"
    else:
        assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4, "exponential backoff"
    assert_every_lead_once(event_integration)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_linkedin_5xx_within_the_retry_budget_are_retried(cli, event_integration, settings, status):
    linkedin_faults(server_errors=attempts(settings) - 1, server_error_status=status)

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    assert linkedin_faults()["server_errors_remaining"] == 0
    assert_every_lead_once(event_integration)


@pytest.mark.parametrize("fault, counter, words", [
    ({"throttle": 100}, "throttle_remaining", "throttle limit"),
    ({"server_errors": 100, "server_error_status": 503}, "server_errors_remaining", "HTTP 503"),
], ids=["429", "503"])
def test_linkedin_down_past_the_retry_budget_fails_the_run_and_the_next_sync_heals_it(
        cli, event_integration, settings, monkeypatch, fault, counter, words):
    settings.LINKEDIN_PAGE_SIZE = 5  # several pages: the storm breaks after the first
    after_the_first_page(monkeypatch, lambda: linkedin_faults(**fault))

    result = cli("sync", "--json")

    run = assert_failed_cleanly(result, "LinkedIn GET /rest/leadFormResponses", words)
    assert 0 < run.new <= 5, "the first page is kept"
    spent = 100 - linkedin_faults()[counter]
    assert spent == attempts(settings), "bounded: one call, tried as often as the policy allows"
    assert_nothing_half_recorded(event_integration)

    linkedin_faults(reset=True)
    monkeypatch.undo()
    assert_the_next_run_heals_it(cli, event_integration)


@pytest.mark.parametrize("kind, words", [("truncated", "not JSON"), ("html", "not JSON")])
def test_a_linkedin_answer_that_is_not_json_fails_the_run_at_once_and_the_next_sync_heals_it(
        cli, event_integration, settings, monkeypatch, kind, words):
    settings.LINKEDIN_PAGE_SIZE = 5
    after_the_first_page(monkeypatch, lambda: linkedin_faults(bad_answers=3, bad_answer_kind=kind))

    result = cli("sync", "--json")

    run = assert_failed_cleanly(result, "LinkedIn GET /rest/leadFormResponses", words)
    assert run.new > 0
    assert linkedin_faults()["bad_answers_remaining"] == 2, "a broken answer is not asked again in a loop"
    assert_nothing_half_recorded(event_integration)

    linkedin_faults(reset=True)
    monkeypatch.undo()
    assert_the_next_run_heals_it(cli, event_integration)


def test_short_pages_under_a_page_size_cap_lose_no_lead(cli, event_integration, settings):
    settings.LINKEDIN_PAGE_SIZE = 7
    linkedin_faults(short_pages=True, page_size_cap=4)  # LinkedIn answers fewer than asked, and shorter still

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    assert_every_lead_once(event_integration)


# --- LinkedIn storms at the socket ---------------------------------------------------------------------


class FaultyProxy:
    """A loopback TCP proxy in front of the live server, one request per connection (it asks both
    sides to close after it), that can break the next N requests at the socket:

    - "reset": the request is read, then the connection is reset (RST, SO_LINGER 0);
    - "stall": the request is read and never answered, until the client gives up;
    - "cut": the answer's head and half its body are sent, then the connection is reset.
    """

    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.kind, self.left = None, 0
        self.requests, self.broken = 0, 0
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def break_next(self, kind, n):
        with self.lock:
            self.kind, self.left = kind, n

    def close(self):
        self.closed.set()
        self.listener.close()

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        client.settimeout(10)
        try:
            request = _read_request(client)
            if not request:
                return
            with self.lock:
                self.requests += 1
                kind = self.kind if self.left > 0 else None
                if kind:
                    self.left -= 1
                    self.broken += 1
            if kind == "reset":
                return _reset(client)
            if kind == "stall":
                return _wait_for_close(client, self.closed)
            answer = self._forward(_with_close(request))
            if kind == "cut":
                head, _, body = answer.partition(b"\r\n\r\n")
                client.sendall(head + b"\r\n\r\n" + body[: len(body) // 2])
                return _reset(client)
            head, _, body = answer.partition(b"\r\n\r\n")
            client.sendall(_with_close(head + b"\r\n\r\n") + body)
        except OSError:
            pass
        finally:
            client.close()

    def _forward(self, request):
        with socket.create_connection(self.upstream, timeout=10) as upstream:
            upstream.sendall(request)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def _read_request(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length.group(1)):
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _with_close(message):
    """An HTTP message whose head says `Connection: close` (any other Connection header removed)."""
    head, _, body = message.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body


def _reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _wait_for_close(sock, closed):
    while not closed.is_set():
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable and not sock.recv(65536):
            return


@pytest.fixture
def proxy(event_integration, sandbox, settings):
    """LinkedIn's API behind the faulty proxy (OAuth and the CRM stay direct)."""
    faulty = FaultyProxy((sandbox.thread.host, sandbox.thread.port))
    settings.LINKEDIN_API_URL = f"{faulty.url}/sandbox/linkedin"
    settings.LEADSYNC_HTTP_TIMEOUT = STALL_TIMEOUT
    yield faulty
    faulty.close()


@pytest.mark.parametrize("kind", ["reset", "stall", "cut"])
def test_linkedin_connection_faults_within_the_retry_budget_are_retried(cli, event_integration, settings, proxy, kind):
    proxy.break_next(kind, attempts(settings) - 1)

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    assert proxy.broken == attempts(settings) - 1 and proxy.requests > proxy.broken
    assert_every_lead_once(event_integration)


@pytest.mark.parametrize("kind, words", [
    ("reset", "the connection was dropped before the answer came"), ("stall", "timed out"),
    ("cut", "the connection broke off in the middle of the answer"),
])
def test_linkedin_connection_faults_past_the_retry_budget_fail_the_run_and_the_next_sync_heals_it(
        cli, event_integration, settings, monkeypatch, proxy, kind, words):
    settings.LINKEDIN_PAGE_SIZE = 5
    after_the_first_page(monkeypatch, lambda: proxy.break_next(kind, 100))

    started = time.monotonic()
    result = cli("sync", "--json")

    assert time.monotonic() - started < 10, "never a hang"
    run = assert_failed_cleanly(result, "LinkedIn GET /rest/leadFormResponses", words)
    assert run.new > 0
    assert proxy.broken == attempts(settings), "bounded: the policy's attempts, then the run ends"
    assert_nothing_half_recorded(event_integration)

    proxy.break_next(None, 0)
    settings.LEADSYNC_HTTP_TIMEOUT = DEFAULT_TIMEOUT
    monkeypatch.undo()
    assert_the_next_run_heals_it(cli, event_integration)


# --- CRM storms ----------------------------------------------------------------------------------------


def crm_calls(**filters):
    return CrmCall.objects.filter(account__account_id=CRM_ACCOUNT, **filters)


def test_crm_107s_within_the_retry_budget_are_waited_out(cli, event_integration, settings):
    crm_fault(throttle_next=attempts(settings) - 1)

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    assert crm_calls(fault="throttle_next_calls").count() == attempts(settings) - 1
    assert_every_lead_once(event_integration)


def test_crm_107s_past_the_retry_budget_fail_the_run_and_the_next_sync_pushes_every_lead(
        cli, event_integration, settings):
    crm_fault(throttle_next=100)

    result = cli("sync", "--json")

    run = assert_failed_cleanly(result, "rate limited", "code 107")
    assert crm_calls(fault="throttle_next_calls").count() == attempts(settings), "bounded"
    assert run.new > 0 and Lead.objects.filter(state="pending").count() == run.new - run.skipped
    assert not CrmLead.objects.exists()

    crm_fault(reset=True)
    assert_the_next_run_heals_it(cli, event_integration)


def test_the_crm_daily_limit_fails_the_run_at_once_and_the_next_sync_pushes_every_lead(cli, event_integration):
    crm_fault(daily_limit_next=3)

    result = cli("sync", "--json")

    run = assert_failed_cleanly(result, "daily call limit", "code 106")
    assert crm_calls(fault="daily_limit_next_calls").count() == 1, "106 is never retried within the run"
    assert run.new > 0 and not Lead.objects.exclude(state__in=["pending", "skipped"]).exists()

    crm_fault(reset=True)
    assert_the_next_run_heals_it(cli, event_integration)


def test_after_a_daily_limit_the_next_sync_does_not_look_each_lead_up(cli, event_integration):
    crm_fault(daily_limit_next=1)
    assert cli("sync", "--json").code == 1
    assert_the_next_run_heals_it(cli, event_integration)
    assert crm_calls(method="getLeads").count() == 0, "nothing was created: nothing to look up"


def test_crm_credentials_revoked_mid_run_end_it_clearly_and_lose_nothing(cli, event_integration, settings, monkeypatch):
    from connectors.crm.client import CrmClient

    settings.LEADSYNC_CRM_BATCH_SIZE = 5
    create = CrmClient.create_leads

    def create_then_revoke(self, objects):
        results = create(self, objects)
        CrmAccount.objects.filter(account_id=CRM_ACCOUNT).update(secret_key="rotated-by-the-crm-admin")
        return results

    monkeypatch.setattr(CrmClient, "create_leads", create_then_revoke)
    result = cli("sync", "--json")
    monkeypatch.undo()

    assert_failed_cleanly(result, "CRM rejected the account ID / secret key", "HTTP 401",
                          secrets=["rotated-by-the-crm-admin"])
    refused = CrmCall.objects.filter(http_status=401)  # the sandbox logs it without an account: none matched
    assert refused.count() == 1, "a 401 is never retried"
    assert refused.get().response == "Unable to determine clusterID from provided accountID/secretKey"
    synced = Lead.objects.filter(state="synced").count()
    assert synced == CrmLead.objects.count() == 5, "the first batch is kept"
    assert not Lead.objects.filter(state="failed").exists(), "the rest wait, pending"

    # The operator gives LeadSync the new key; the next sync pushes the rest, none twice.
    assert cli("crm", "add", "crm", "--account-id", CRM_ACCOUNT, "--secret-key", "rotated-by-the-crm-admin").code == 0
    assert_the_next_run_heals_it(cli, event_integration)


def test_a_few_leads_the_crm_refuses_fail_alone_and_go_once_retried(cli, event_integration):
    emails = sorted({sandbox_email(lead) for lead in li.Lead.objects.filter(
        form_version__form_id=int(event_integration.form.linkedin_id), test_lead=False).select_related("form_version")})
    refused = emails[:3]
    crm_fault(reject_email="^(" + "|".join(map(re.escape, refused)) + ")$", reject_code=208,
              reject_message="Object malformed")

    result = cli("sync", "--json")

    assert result.code == 0, "lead failures are reported, not fatal"
    run = result.json["runs"][0]
    failed = Lead.objects.filter(state="failed")
    assert {lead.email.lower() for lead in failed} == set(refused)
    assert run["failed"] == failed.count() and run["created"] > 0
    assert all("208" in lead.last_error and "Object malformed" in lead.last_error for lead in failed)
    assert not set(refused) & set(CrmLead.objects.values_list("email_lower", flat=True))

    crm_fault(reset=True)
    assert_the_next_run_heals_it(cli, event_integration, "retry-failed")


def test_crm_answers_lost_twice_over_are_healed_in_the_same_run_without_doubling(cli, event_integration):
    # The createLeads answer is lost (the leads were made), then so is the answer to the read that
    # finds them: the read is retried, the created leads adopted, none sent twice.
    crm_fault(drop_next=2)

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    assert crm_calls(fault="drop_next_answers").count() == 2
    assert crm_calls(method="createLeads").count() == 1, "never resent blindly"
    assert crm_calls(method="getLeadsDateRange").count() == 2, "the lost read, retried once"
    assert_every_lead_once(event_integration)
