"""Call limits held by every worker on every machine: the CRM's calls per second and per day per
account, LinkedIn's 429 backoff and its (optional) daily budgets per member and per app.

One interface, two implementations. A call is made inside `with limiter.slot(key, rate=…, daily=…):`.

- `LocalLimiter` keeps the limits in this process only (what LeadSync did before there was a
  fleet): calls on one key start `MARGIN / rate` apart across the threads of the process. It
  neither counts days nor shares blocks. Used when no Redis is configured (the demo on SQLite,
  tests on the memory broker).
- `RedisLimiter` keeps them in Redis, so N workers on M machines share one budget per key. A
  sliding window of calls per key (a sorted set) in which a call counts from the moment it is let
  through until one `window` after its answer came back: a call is let through only while fewer
  than `rate` calls are in flight or ended within the last window. So however long the calls take
  on the way, the service never receives more than `rate` calls within one window (spacing by start
  time alone cannot promise that: a call delayed on the way lands in the next one's second). One
  Lua script, run atomically by Redis, decides, counts the day's calls and honours what `block`
  (a 429 with Retry-After, a 107) and `exhaust` (a 106) stored: the other workers wait too. The
  clock is Redis's own (`TIME`), so machines whose clocks disagree share one timeline.

`slot` waits at most `max_wait` seconds in all; a call that would wait longer raises `RateLimited`
(retryable, with `retry_after`) and the retry policy decides. A day's budget spent, or a service's
daily limit, raise `RateLimited(daily=True)`.

Keys are hashed (`limit_key`): account ids and member URNs never appear in Redis. This module imports
nothing of Django; the Django side builds the limiter from settings (`connectors.clients`).
"""

import hashlib
import logging
import threading
import time
import uuid
from contextlib import contextmanager

from connectors.exceptions import RateLimited

logger = logging.getLogger(__name__)

# LocalLimiter's spacing, 10% under a per-second limit: a server counting a one-second window
# inclusively would otherwise see rate + 1 calls at the window's edges.
MARGIN = 1.1
DEFAULT_MAX_WAIT = 30.0
DAY = 86400


def limit_key(kind, *parts):
    """The key of one budget: `kind` readable (crm, linkedin-member, linkedin-app), the parts hashed."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def _interval(rate):
    return MARGIN / rate if rate else 0.0


class Limiter:
    """What both limiters offer: `slot` around each call."""

    @contextmanager
    def slot(self, key, *, rate=None, daily=None, what="calls"):
        """Wait until a call on `key` may be made (at most `rate` a second, `daily` a day), make it
        inside the block; the call is over when the block is left."""
        token = self.acquire(key, rate=rate, daily=daily, what=what)
        try:
            yield
        finally:
            self.release(token)

    def acquire(self, key, *, rate=None, daily=None, what="calls"):
        """Wait until a call on `key` may go; return a token for `release`."""
        raise NotImplementedError

    def release(self, token):
        """The call of `token` (what `acquire` returned) is over."""

    def block(self, key, seconds):
        """The service asked for a pause (429 Retry-After, CRM 107): nobody calls on `key` for `seconds`."""

    def exhaust(self, key, seconds):
        """The service's daily limit is reached (CRM 106): calls on `key` fail at once for `seconds`."""


class LocalLimiter(Limiter):
    """Spaces calls per key in this process; `block` and `exhaust` are left to the retry policy.

    The state is shared by every instance in the process (the limit is per account, not per client
    object); `clock` and `sleep` are the instance's, so tests can drive them."""

    _states = {}
    _states_lock = threading.Lock()

    def __init__(self, *, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep

    def _state(self, key):
        with self._states_lock:
            return self._states.setdefault(key, [threading.Lock(), None])

    def acquire(self, key, *, rate=None, daily=None, what="calls"):
        """Wait for the key's next slot. `daily` is not counted here."""
        if not rate:
            return None
        state = self._state(key)  # [lock, the next free slot]
        with state[0]:
            now = self.clock()
            start = now if state[1] is None else max(now, state[1])
            state[1] = start + _interval(rate)
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return None

    # `block` and `exhaust` do nothing: in one process the retry policy honours the service's wait
    # and the caller sees its daily limit itself.


# KEYS: 1 the window (sorted set: call id -> the time it ended, or while in flight the time it is
# given up on), 2 blocked until (a float), 3 the daily limit is reached (a flag with a TTL), 4 the
# prefix of the day counters. ARGV: 1 calls per window (0: not limited), 2 the window (s), 3 calls a
# day (0: not counted), 4 the call's id, 5 how long a call may stay in flight (s), 6 how often to look
# again while the window is full of calls in flight (s).
# Returns {status, seconds}: ok (go), wait (look again in this many seconds), daily (the day's budget
# is spent: seconds until it comes back).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window, daily = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local hold, poll = tonumber(ARGV[5]), tonumber(ARGV[6])
local out = redis.call('PTTL', KEYS[3])
if out > 0 or out == -1 then
  return {'daily', string.format('%.3f', out > 0 and out / 1000 or 86400)}
end
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return {'wait', string.format('%.6f', blocked - now)}
end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - window))
  local count = redis.call('ZCARD', KEYS[1])
  if count >= limit then
    local first = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
    local ended = tonumber(first[2])
    local wait = poll
    if ended <= now then wait = ended + window - now end
    return {'wait', string.format('%.6f', wait)}
  end
end
if daily > 0 then
  local day = math.floor(now / 86400)
  local counter = KEYS[4] .. day
  local used = tonumber(redis.call('GET', counter) or '0')
  if used >= daily then
    return {'daily', string.format('%.3f', (day + 1) * 86400 - now)}
  end
  redis.call('INCR', counter)
  redis.call('EXPIRE', counter, 2 * 86400)
end
if limit > 0 then
  redis.call('ZADD', KEYS[1], string.format('%.6f', now + hold), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((hold + window) * 1000) + 1000)
end
return {'ok', '0'}
"""

# KEYS: 1 the window. ARGV: 1 the call's id. The call ended now (if it is still in the window).
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return redis.call('ZADD', KEYS[1], 'XX', 'CH', string.format('%.6f', now), ARGV[1])
"""

# KEYS: 1 blocked until. ARGV: 1 seconds. Only ever moves the block later.
_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = now + tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > blocked then
  redis.call('SET', KEYS[1], string.format('%.6f', untl), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return string.format('%.6f', math.max(untl, blocked) - now)
"""


class RedisLimiter(Limiter):
    """The limits in Redis, shared by every process that uses the same Redis and prefix.

    `redis` is a redis-py client or a URL. `window` is the limit's period (one second for "calls
    per second"); a call stays counted as in flight for at most `hold` seconds (a worker killed
    during a call gives its place back then). When Redis cannot be reached the call is not refused:
    the limiter falls back to this process's `LocalLimiter` (and says so in the log, once a minute),
    so a Redis outage slows nothing down beyond what one worker alone would do."""

    POLL = 0.05  # how often to look again while the window is full of calls still in flight
    RETRY_REDIS = 10.0  # after Redis was unreachable, the process's limits are used this long

    def __init__(self, redis, *, prefix="leadsync:ratelimit:", max_wait=DEFAULT_MAX_WAIT, window=1.0,
                 hold=120.0, sleep=time.sleep):
        if isinstance(redis, str):
            import redis as redis_py

            redis = redis_py.Redis.from_url(redis, socket_connect_timeout=2, socket_timeout=5)
        self.redis = redis
        self.prefix = prefix
        self.max_wait = float(max_wait)
        self.window = float(window)
        self.hold = float(hold)
        self.sleep = sleep
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._block = redis.register_script(_BLOCK)
        self._fallback = LocalLimiter(sleep=sleep)
        self._warned_at = None
        self._down_until = None

    def __repr__(self):
        return f"<RedisLimiter prefix={self.prefix!r}>"

    def _keys(self, key):
        base = self.prefix + key
        return [f"{base}:window", f"{base}:blocked", f"{base}:out", f"{base}:day:"]

    def _away(self):
        """True while Redis was found unreachable less than RETRY_REDIS seconds ago: calls do not
        wait for a connect timeout each, they use the process's limits."""
        return self._down_until is not None and time.monotonic() < self._down_until

    def _unreachable(self, error):
        now = time.monotonic()
        self._down_until = now + self.RETRY_REDIS
        if self._warned_at is None or now - self._warned_at > 60:
            self._warned_at = now
            logger.warning("Rate limiter: Redis unreachable (%s); limits are kept per process meanwhile",
                           type(error).__name__)

    def acquire(self, key, *, rate=None, daily=None, what="calls"):
        """Wait until a call on `key` may go; returns its token for `release` (None: nothing to release).

        RateLimited when it would wait more than `max_wait` in all (retryable, nothing taken) or the
        day's budget is spent (`daily=True`)."""
        import redis as redis_py

        if self._away():
            return self._fallback.acquire(key, rate=rate)
        keys, call = self._keys(key), uuid.uuid4().hex
        args = [int(rate or 0), self.window, int(daily or 0), call, self.hold, self.POLL]
        waited = 0.0
        while True:
            try:
                status, seconds = self._acquire(keys=keys, args=args)
            except redis_py.RedisError as exc:
                self._unreachable(exc)
                return self._fallback.acquire(key, rate=rate)
            status, seconds = status.decode() if isinstance(status, bytes) else status, float(seconds)
            if status == "ok":
                return (keys[0], call) if rate else None
            if status == "daily":
                raise RateLimited(f"{what}: the daily call limit is reached; calls resume in {seconds / 3600:.1f} h "
                                  "(after the daily reset)", retry_after=seconds, daily=True)
            if waited + seconds > self.max_wait:
                raise RateLimited(f"{what}: no call may go for {seconds:.1f} s more (a call waits "
                                  f"{self.max_wait:g} s at most)", retry_after=seconds)
            self.sleep(seconds)
            waited += seconds

    def release(self, token):
        import redis as redis_py

        if token is None:
            return
        window, call = token
        try:
            self._release(keys=[window], args=[call])
        except redis_py.RedisError as exc:
            self._unreachable(exc)  # the call stays counted until `hold` has passed

    def block(self, key, seconds):
        """Nobody calls on `key` for `seconds` (e.g. a 429's Retry-After); returns the block's length."""
        import redis as redis_py

        if not seconds or seconds <= 0 or self._away():
            return 0.0
        try:
            return float(self._block(keys=[self._keys(key)[1]], args=[float(seconds)]))
        except redis_py.RedisError as exc:
            self._unreachable(exc)
            return 0.0

    def exhaust(self, key, seconds):
        """The service said the day's limit is reached: every `acquire` on `key` raises
        RateLimited(daily=True) for `seconds`."""
        import redis as redis_py

        if self._away():
            return
        try:
            self.redis.set(self._keys(key)[2], "1", px=max(1, int(seconds * 1000)))
        except redis_py.RedisError as exc:
            self._unreachable(exc)

    def status(self, key):
        """What Redis holds for `key` now: calls in flight or ended within the last window, calls
        counted today, seconds left of a block and of a daily pause. RedisError when unreachable."""
        window, blocked, out, day_prefix = self._keys(key)
        seconds, micros = self.redis.time()
        now = float(seconds) + micros / 1e6
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcount(window, f"({now - self.window:.6f}", "+inf")
        pipe.get(blocked)
        pipe.pttl(out)
        pipe.get(f"{day_prefix}{int(now // DAY)}")
        recent, blocked_until, out_ms, today = pipe.execute()
        return {
            "calls_last_window": int(recent),
            "calls_today": int(today or 0),
            "blocked_for": round(max(0.0, float(blocked_until) - now), 3) if blocked_until else 0.0,
            "paused_for": round(out_ms / 1000, 3) if out_ms > 0 else 0.0,
        }

    def clear(self, key):
        """Forget what is stored for `key` (its window, block, daily flag and today's count)."""
        keys = self._keys(key)
        day = int(float(self.redis.time()[0]) // DAY)
        self.redis.delete(*keys[:3], f"{keys[3]}{day}")
