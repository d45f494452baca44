"""Call limits held by every worker on every machine: the CRM's calls per second and per day per
account, LinkedIn's 429 backoff and its (optional) daily budgets per member and per app.

One interface, two implementations:

- `LocalLimiter` keeps the limits in this process only (what LeadSync did before there was a
  fleet): calls to one account are spaced `MARGIN / rate` apart across the threads of the process.
  It neither counts days nor shares blocks. Used when no Redis is configured (the demo on SQLite,
  tests on the memory broker).
- `RedisLimiter` keeps them in Redis, so N workers on M machines share one budget per key. One Lua
  script, run atomically by Redis, reserves the next free slot (GCRA without burst: the slots of a
  key are spaced `MARGIN / rate` apart), counts the day's calls, and honours what `block` (a 429
  with Retry-After, a 107) and `exhaust` (a 106) stored: the other workers wait too. The clock is
  Redis's own (`TIME`), so machines whose clocks disagree still share one timeline.

`acquire` blocks until the reserved slot comes, at most `max_wait` seconds; a slot further away is
not reserved and `RateLimited` (retryable, with `retry_after`) is raised instead, so the retry
policy decides. A day's budget spent, or a service's daily limit, raise `RateLimited(daily=True)`.

Keys are hashed (`limit_key`): account ids and member URNs never appear in Redis. This module imports
nothing of Django; the Django side builds the limiter from settings (`connectors.clients`).
"""

import hashlib
import logging
import threading
import time

from connectors.exceptions import RateLimited

logger = logging.getLogger(__name__)

# 10% under a per-second limit: a server counting a one-second window inclusively, or seeing two
# calls arrive closer than they were sent, would otherwise see rate + 1 calls at the window's edges.
MARGIN = 1.1
DEFAULT_MAX_WAIT = 30.0
DAY = 86400


def limit_key(kind, *parts):
    """The key of one budget: `kind` readable (crm, linkedin-member, linkedin-app), the parts hashed."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def _interval(rate):
    return MARGIN / rate if rate else 0.0


class LocalLimiter:
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
        """Wait for the key's next slot; returns the seconds waited. `daily` is not counted here."""
        if not rate:
            return 0.0
        state = self._state(key)  # [lock, the next free slot]
        with state[0]:
            now = self.clock()
            start = now if state[1] is None else max(now, state[1])
            state[1] = start + _interval(rate)
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)

    def block(self, key, seconds):
        """Nothing is shared in one process: the retry policy honours the service's wait."""

    def exhaust(self, key, seconds):
        """Nothing is shared in one process: the caller sees the service's daily limit itself."""

    @classmethod
    def reset(cls):
        """Forget every key (tests)."""
        with cls._states_lock:
            cls._states.clear()


# KEYS: 1 the next free slot, 2 blocked until (a float), 3 the daily limit was reached (flag with a TTL),
#       4 the prefix of the day counters. ARGV: 1 interval, 2 max wait, 3 calls a day (0: not counted).
# Returns {status, seconds}: ok (sleep this long, the slot is yours), wait (the slot is further than
# the max wait: nothing reserved), daily (the day's budget is spent: seconds until it comes back).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, max_wait, daily = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = redis.call('PTTL', KEYS[3])
if out > 0 or out == -1 then
  return {'daily', string.format('%.3f', out > 0 and out / 1000 or 86400)}
end
local start = now
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > start then start = blocked end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > start then start = tat end
local wait = start - now
if wait > max_wait then
  return {'wait', string.format('%.6f', wait)}
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
if interval > 0 then
  local nxt = start + interval
  redis.call('SET', KEYS[1], string.format('%.6f', nxt), 'PX', math.ceil((nxt - now) * 1000) + 1000)
end
return {'ok', string.format('%.6f', wait)}
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


class RedisLimiter:
    """The limits in Redis, shared by every process that uses the same Redis and prefix.

    `redis` is a redis-py client or a URL. When Redis cannot be reached the call is not refused:
    the limiter falls back to this process's `LocalLimiter` (and says so in the log, once a minute),
    so a Redis outage slows nothing down beyond what one worker alone would do."""

    def __init__(self, redis, *, prefix="leadsync:ratelimit:", max_wait=DEFAULT_MAX_WAIT, sleep=time.sleep):
        if isinstance(redis, str):
            import redis as redis_py

            redis = redis_py.Redis.from_url(redis, socket_connect_timeout=2, socket_timeout=5)
        self.redis = redis
        self.prefix = prefix
        self.max_wait = float(max_wait)
        self.sleep = sleep
        self._acquire = redis.register_script(_ACQUIRE)
        self._block = redis.register_script(_BLOCK)
        self._fallback = LocalLimiter(sleep=sleep)
        self._warned_at = None

    def __repr__(self):
        return f"<RedisLimiter prefix={self.prefix!r}>"

    def _keys(self, key):
        base = self.prefix + key
        return [f"{base}:next", f"{base}:blocked", f"{base}:out", f"{base}:day:"]

    def _unreachable(self, error):
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at > 60:
            self._warned_at = now
            logger.warning("Rate limiter: Redis unreachable (%s); limits are kept per process meanwhile",
                           type(error).__name__)

    def acquire(self, key, *, rate=None, daily=None, what="calls"):
        """Reserve the key's next slot and sleep until it; returns the seconds waited.

        RateLimited when the slot is more than `max_wait` away (nothing reserved: retryable) or the
        day's budget is spent (`daily=True`)."""
        import redis as redis_py

        try:
            status, seconds = self._acquire(keys=self._keys(key), args=[_interval(rate), self.max_wait, int(daily or 0)])
        except redis_py.RedisError as exc:
            self._unreachable(exc)
            return self._fallback.acquire(key, rate=rate)
        status, seconds = status.decode() if isinstance(status, bytes) else status, float(seconds)
        if status == "daily":
            raise RateLimited(f"{what}: the daily call limit is reached; calls resume in {seconds / 3600:.1f} h "
                              "(after the daily reset)", retry_after=seconds, daily=True)
        if status == "wait":
            raise RateLimited(f"{what}: the next free call slot is {seconds:.1f} s away (more than the "
                              f"{self.max_wait:g} s a call may wait)", retry_after=seconds)
        if seconds > 0:
            self.sleep(seconds)
        return seconds

    def block(self, key, seconds):
        """Nobody calls on `key` for `seconds` (e.g. a 429's Retry-After); returns the block's length."""
        import redis as redis_py

        if not seconds or seconds <= 0:
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

        try:
            self.redis.set(self._keys(key)[2], "1", px=max(1, int(seconds * 1000)))
        except redis_py.RedisError as exc:
            self._unreachable(exc)

    def clear(self, key):
        """Forget what is stored for `key` (its slot, block, daily flag and today's count)."""
        keys = self._keys(key)
        day = int(float(self.redis.time()[0]) // DAY)
        self.redis.delete(*keys[:3], f"{keys[3]}{day}")
