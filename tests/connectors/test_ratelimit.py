"""The rate limiters: the in-process one (fake clock) and the Redis one (a real Redis server,
LEADSYNC_TEST_REDIS_URL; skipped without it). The Redis one is read back from Redis itself: the
slot each acquire reserved is stored, so the spacing is checked exactly, without timing."""

import logging
import threading
import time
import uuid

import pytest
import redis as redis_py
import responses

from connectors.crm.client import CrmClient
from connectors.exceptions import RateLimited
from connectors.http import RetryPolicy
from connectors.linkedin.client import LinkedInClient
from connectors.ratelimit import MARGIN, LocalLimiter, RedisLimiter, limit_key

CRM_URL = "https://api.sharpspring.com/pubapi/v1.2/"
LINKEDIN_URL = "https://api.linkedin.com"


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def fresh_local_state(monkeypatch):
    monkeypatch.setattr(LocalLimiter, "_states", {})


# --- keys -------------------------------------------------------------------------------------------


def test_keys_are_hashed_so_redis_never_holds_an_account_id_or_a_member():
    key = limit_key("crm", CRM_URL, "3_ACCT1C9C3E4A")
    assert key.startswith("crm:") and "ACCT" not in key and "sharpspring" not in key
    assert key == limit_key("crm", CRM_URL, "3_ACCT1C9C3E4A")
    assert key != limit_key("crm", CRM_URL, "3_ACCT1C9C3E4B")
    assert limit_key("linkedin-member", "app", "urn:li:person:abc") != limit_key("linkedin-member", "app", "urn:li:person:abd")


# --- in process -------------------------------------------------------------------------------------


def test_local_limiter_spaces_calls_per_key_across_instances():
    t = FakeTime()
    first, second = LocalLimiter(clock=t.clock, sleep=t.sleep), LocalLimiter(clock=t.clock, sleep=t.sleep)
    starts = []
    for i in range(21):
        (first if i % 2 else second).acquire("crm:a", rate=10)
        starts.append(t.now)
    assert [b - a for a, b in zip(starts, starts[1:])] == pytest.approx([MARGIN / 10] * 20)
    before = t.now
    first.acquire("crm:b", rate=10)  # another key has its own budget
    assert t.now == before


def test_local_limiter_does_not_pace_without_a_rate_and_shares_no_block():
    t = FakeTime()
    limiter = LocalLimiter(clock=t.clock, sleep=t.sleep)
    limiter.block("linkedin-member:x", 30)
    limiter.exhaust("crm:a", 3600)
    for _ in range(5):
        limiter.acquire("linkedin-member:x", daily=2)
        limiter.acquire("crm:a")
    assert t.sleeps == []


# --- in Redis ---------------------------------------------------------------------------------------

@pytest.fixture
def redis_client(redis_url):
    client = redis_py.Redis.from_url(redis_url)
    prefix = f"test-ratelimit:{uuid.uuid4().hex}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def make_limiter(redis_client):
    client, prefix = redis_client
    made = []

    def make(*, really_sleep=False, **kwargs):
        """Its sleeps are recorded; they pass no time unless `really_sleep` (Redis's clock goes on)."""
        sleeps = []

        def sleep(seconds):
            sleeps.append(seconds)
            if really_sleep:
                time.sleep(seconds)

        limiter = RedisLimiter(client, prefix=prefix, sleep=sleep, **kwargs)
        limiter.sleeps = sleeps
        made.append(limiter)
        return limiter

    return make


@pytest.mark.redis
def test_redis_limiter_lets_rate_calls_through_then_waits_for_those_in_flight(make_limiter):
    workers = [make_limiter(max_wait=0.2) for _ in range(3)]  # three processes, one Redis
    tokens = [workers[i % 3].acquire("crm:a", rate=10) for i in range(10)]
    assert all(w.sleeps == [] for w in workers)
    blocked = workers[0]
    with pytest.raises(RateLimited) as excinfo:
        blocked.acquire("crm:a", rate=10, what="CRM getFields")  # ten calls in flight: look again and again
    assert blocked.sleeps == [blocked.POLL] * 4
    assert excinfo.value.retryable and not excinfo.value.daily and "CRM getFields" in str(excinfo.value)
    for worker, token in zip(workers * 4, tokens):
        worker.release(token)
    # Every call has ended: the next may go one window after the first of them ended.
    with pytest.raises(RateLimited) as excinfo:
        workers[1].acquire("crm:a", rate=10)
    assert 0.8 < excinfo.value.retry_after <= 1.0
    assert workers[1].acquire("crm:b", rate=10) is not None  # another key has its own window


@pytest.mark.redis
def test_no_window_holds_more_than_rate_calls_whatever_the_calls_take(make_limiter):
    """Threads as workers, each call in flight for a while: at the moment any call goes, fewer than
    `rate` others are in flight or ended within the window before it. So a service counting
    arrivals (somewhere between a call's start and end) never sees more than `rate` in a window."""
    rate, window = 5, 0.2
    limiter = make_limiter(window=window)
    limiter.sleep = time.sleep
    seen, lock = [], threading.Lock()

    def now():
        seconds, micros = limiter.redis.time()
        return seconds + micros / 1e6

    def worker(n):
        for i in range(8):
            token = limiter.acquire("crm:a", rate=rate)
            start = now()
            time.sleep((n * 7 + i * 3) % 4 / 100)  # 0 to 30 ms on the way
            end = now()
            limiter.release(token)
            with lock:
                seen.append((start, end))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 24
    for start, end in seen:
        overlapping = [other for other in seen if other[0] < start and other[1] > start - window]
        assert len(overlapping) < rate


@pytest.mark.redis
def test_the_daily_count_is_shared_and_stops_every_worker(make_limiter):
    first, second = make_limiter(), make_limiter()
    first.acquire("crm:a", rate=10, daily=3)
    second.acquire("crm:a", rate=10, daily=3)
    first.acquire("crm:a", rate=10, daily=3)
    for worker in (first, second):
        with pytest.raises(RateLimited) as excinfo:
            worker.acquire("crm:a", rate=10, daily=3)
        assert excinfo.value.daily and 0 < excinfo.value.retry_after <= 86400
    second.acquire("crm:b", rate=10, daily=3)  # another account's day


@pytest.mark.redis
def test_a_block_holds_every_worker_back_and_only_ever_grows(make_limiter):
    blocker, other = make_limiter(), make_limiter(max_wait=2)
    assert blocker.block("linkedin-member:x", 5) == pytest.approx(5, abs=0.05)
    assert blocker.block("linkedin-member:x", 1) == pytest.approx(5, abs=0.05)  # a shorter one does not shorten it
    with pytest.raises(RateLimited) as excinfo:
        other.acquire("linkedin-member:x")
    assert 4.5 < excinfo.value.retry_after <= 5 and not excinfo.value.daily
    assert other.sleeps == []  # it would wait longer than it may: it does not wait at all
    assert other.acquire("linkedin-member:y") is None  # not paced: nothing to release


@pytest.mark.redis
def test_an_exhausted_key_raises_a_daily_limit_until_its_pause_ends(make_limiter):
    first, second = make_limiter(), make_limiter()
    first.exhaust("crm:a", 3600)
    with pytest.raises(RateLimited) as excinfo:
        second.acquire("crm:a", rate=10)
    assert excinfo.value.daily and 3590 < excinfo.value.retry_after <= 3600
    second.clear("crm:a")
    assert second.acquire("crm:a", rate=10) is not None


def test_without_redis_the_limits_fall_back_to_the_process_and_say_so_once(caplog):
    limiter = RedisLimiter("redis://127.0.0.1:9/0", sleep=lambda s: None)
    with caplog.at_level(logging.WARNING, logger="connectors.ratelimit"):
        for _ in range(3):
            limiter.acquire("crm:a", rate=10)
        limiter.block("crm:a", 5)
        limiter.exhaust("crm:a", 5)
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_after_redis_was_found_away_calls_do_not_try_it_again_for_a_while(monkeypatch):
    limiter = RedisLimiter("redis://127.0.0.1:9/0", sleep=lambda s: None)
    tried = []
    real = limiter._acquire
    monkeypatch.setattr(limiter, "_acquire", lambda **kw: tried.append(1) or real(**kw))
    for _ in range(5):
        limiter.acquire("crm:a", rate=10)
    assert tried == [1]  # one connect refused, then the process's limits for RETRY_REDIS seconds


# --- the clients under the Redis limiter ------------------------------------------------------------


def crm_answer(result=None, error=None):
    def callback(request):
        import json

        body = json.loads(request.body)
        return 200, {}, json.dumps({"id": body["id"], "result": result, "error": error})

    return callback


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def crm(limiter, account="3_ACCT1C9C3E4A", **kwargs):
    return CrmClient(CRM_URL, account_id=account, secret_key="S3CR3T5B09F6D2A7E8", limiter=limiter,
                     retry=RetryPolicy(max_attempts=1), **kwargs)


@pytest.mark.redis
def test_a_106_stops_every_client_of_the_account_without_another_call(rsps, make_limiter):
    rsps.add_callback(responses.POST, CRM_URL, callback=crm_answer(error={"code": 106, "message": "Daily limit"}))
    with pytest.raises(RateLimited):
        crm(make_limiter()).check()
    with pytest.raises(RateLimited) as excinfo:
        crm(make_limiter()).check()  # another worker
    assert excinfo.value.daily and excinfo.value.retry_after > 3500
    assert len(rsps.calls) == 1
    rsps.reset()
    rsps.add_callback(responses.POST, CRM_URL, callback=crm_answer(result={"field": []}))
    crm(make_limiter(), account="OTHER-ACCOUNT").check()  # other accounts go on


@pytest.mark.redis
def test_a_107_blocks_the_account_for_a_second_for_every_worker(rsps, make_limiter):
    rsps.add_callback(responses.POST, CRM_URL, callback=crm_answer(error={"code": 107, "message": "Too fast"}))
    first, second = make_limiter(), make_limiter(really_sleep=True)
    with pytest.raises(RateLimited):
        crm(first).check()
    rsps.reset()
    rsps.add_callback(responses.POST, CRM_URL, callback=crm_answer(result={"field": []}))
    crm(second).check()
    assert len(second.sleeps) == 1 and 0.8 < second.sleeps[0] <= 1.0


@pytest.mark.redis
def test_the_crm_client_counts_its_daily_limit_in_redis(rsps, make_limiter):
    rsps.add_callback(responses.POST, CRM_URL, callback=crm_answer(result={"field": []}))
    limiter = make_limiter()
    crm(limiter, daily_limit=2).check()
    crm(limiter, daily_limit=2).check()
    with pytest.raises(RateLimited) as excinfo:
        crm(limiter, daily_limit=2).check()
    assert excinfo.value.daily and len(rsps.calls) == 2


@pytest.mark.redis
def test_a_linkedin_429_with_retry_after_holds_back_every_worker_of_the_member(rsps, make_limiter):
    budgets = [(limit_key("linkedin-member", "app", "urn:li:person:1"), None)]
    rsps.add(responses.GET, f"{LINKEDIN_URL}/v2/me", status=429, headers={"Retry-After": "1"}, json={"status": 429})
    first = LinkedInClient(LINKEDIN_URL, access_token="tok", limiter=make_limiter(), budgets=budgets,
                           retry=RetryPolicy(max_attempts=1))
    with pytest.raises(RateLimited):
        first.me()
    rsps.replace(responses.GET, f"{LINKEDIN_URL}/v2/me", json={"id": "1"})
    other_limiter = make_limiter(really_sleep=True)
    other = LinkedInClient(LINKEDIN_URL, access_token="tok", limiter=other_limiter, budgets=budgets)
    assert other.me() == {"id": "1"}
    assert len(other_limiter.sleeps) == 1 and 0.8 < other_limiter.sleeps[0] <= 1
    another_member = LinkedInClient(LINKEDIN_URL, access_token="tok", limiter=(free := make_limiter()),
                                    budgets=[(limit_key("linkedin-member", "app", "urn:li:person:2"), None)])
    another_member.me()
    assert free.sleeps == []


@pytest.mark.redis
def test_a_linkedin_daily_budget_is_counted_for_the_member_and_the_app(rsps, make_limiter):
    rsps.add(responses.GET, f"{LINKEDIN_URL}/v2/me", json={"id": "1"})
    app = (limit_key("linkedin-app", "app"), 3)
    limiter = make_limiter()
    one = LinkedInClient(LINKEDIN_URL, access_token="a", limiter=limiter,
                         budgets=[(limit_key("linkedin-member", "app", "m1"), 2), app])
    two = LinkedInClient(LINKEDIN_URL, access_token="b", limiter=limiter,
                         budgets=[(limit_key("linkedin-member", "app", "m2"), 2), app])
    one.me(), one.me()
    with pytest.raises(RateLimited) as excinfo:
        one.me()  # the member's 2
    assert excinfo.value.daily
    two.me()
    with pytest.raises(RateLimited):
        two.me()  # the app's 3
    assert len(rsps.calls) == 3
