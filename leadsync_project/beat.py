"""Beat runs once: django-celery-beat's DatabaseScheduler behind a lease in Redis.

Two beats would each send every schedule (each keeps its own "last run" in memory), doubling every
scheduled sync. So a beat sends nothing unless it holds the lease `leadsync:beat` in Redis: taken
with SET NX and an expiry (LEADSYNC_BEAT_LOCK_TTL_SECONDS, a minute), renewed at every tick (a few
seconds apart), given back when the beat stops. A second beat, on this machine or another, waits:
it logs who holds the lease, sends nothing, and asks again every few seconds; when the first beat
stops (or dies, and its lease runs out) it takes over with the schedule as the database has it. A
beat that finds its lease lost (Redis restarted, the process paused past the expiry) stops sending
at once and waits like any second beat. A beat that takes over starts from the last runs the
database has: after a clean stop those are exact; after a crash they may be a few minutes old
(beat writes them every three minutes), so an entry may run once more at the takeover, which the
per-integration lock and the "a sibling's tick did it" check make harmless.

The lease lives in the Redis of LEADSYNC_BEAT_LOCK_URL, by default the broker's. With a broker that
is not Redis (memory:// or a file broker in development) there is nothing to hold a lease in: beat
runs unguarded and says so once.
"""

import logging
import os
import socket
import uuid

import redis
from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler
from redis.exceptions import LockError, RedisError

logger = logging.getLogger(__name__)

LOCK_KEY = "leadsync:beat"


def lock_url(app) -> str:
    """Where the lease is kept: LEADSYNC_BEAT_LOCK_URL, else the broker when it is Redis, else ""."""
    url = settings.LEADSYNC_BEAT_LOCK_URL or app.conf.broker_url or ""
    return url if url.startswith(("redis://", "rediss://", "unix://")) else ""


class BeatLease:
    """The one-beat lease: `hold()` is True while this process holds it (taking it when free)."""

    def __init__(self, url: str, ttl: float, key: str = LOCK_KEY):
        self.ttl = ttl
        self.client = redis.Redis.from_url(url, socket_timeout=max(1.0, ttl / 10), socket_connect_timeout=5)
        # The token names the holder, so that a waiting beat can say who it waits for.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lock = self.client.lock(key, timeout=ttl, thread_local=False)
        self.held = False
        self._waiting_for = None

    def hold(self) -> bool:
        """Renew the lease when held, take it when free; False (send nothing) otherwise, and when
        Redis cannot be asked (a beat that cannot prove it is the only one keeps quiet)."""
        try:
            if self.held:
                try:
                    self.lock.reacquire()
                    return True
                except LockError:
                    self.held = False
                    logger.warning("beat: the beat lease was lost (another beat holds it now, or Redis forgot "
                                   "it); this beat sends nothing until it holds the lease again")
            if self.lock.acquire(blocking=False, token=self.token):
                self.held, self._waiting_for = True, None
                logger.info("beat: this beat (%s) holds the beat lease and sends the schedule", self.token)
                return True
            holder = self.client.get(self.lock.name)
            holder = holder.decode(errors="replace") if holder else "?"
            if holder != self._waiting_for:
                self._waiting_for = holder
                logger.warning("beat: another beat (%s) holds the beat lease: this one waits and sends nothing "
                               "(only one beat may run; it takes over if that one stops)", holder)
            return False
        except RedisError as exc:
            if self.held:
                logger.warning("beat: Redis did not answer (%s); this beat sends nothing until it does", exc)
            self.held = False
            return False

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self.lock.release()
        except (LockError, RedisError):
            pass  # lost or unreachable: it runs out by itself


class GuardedDatabaseScheduler(DatabaseScheduler):
    """DatabaseScheduler that ticks only while it holds the beat lease (see the module)."""

    lease = None
    _closed = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        url = lock_url(self.app)
        if url:
            self.lease = BeatLease(url, settings.LEADSYNC_BEAT_LOCK_TTL_SECONDS)
        else:
            logger.warning("beat: the broker is not Redis, so nothing guards against a second beat: run only one")
        self._was_holding = False

    def _renew_every(self) -> float:
        return max(0.5, min(self.max_interval, self.lease.ttl / 4))

    def tick(self, *args, **kwargs):
        if self._closed:
            # Stopping: beat's SIGTERM handler closes the scheduler, then raises SystemExit, which a
            # publish under way may swallow; a closed scheduler never ticks (nor takes its lease back).
            raise SystemExit("beat: stopped")
        if self.lease is None:
            return super().tick(*args, **kwargs)
        if not self.lease.hold():
            self._was_holding = False
            return self._renew_every()
        if not self._was_holding:
            # Just took the lease (at start, or over from another beat): read the schedule afresh,
            # last runs included, as the beat that held it left them in the database.
            self._was_holding = True
            self._initial_read = True
            self._heap = None
        return min(super().tick(*args, **kwargs), self._renew_every())

    def close(self):
        self._closed = True
        try:
            super().close()
        finally:
            if self.lease is not None:
                self.lease.release()
