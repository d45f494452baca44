"""One sync of an integration at a time: a lock on the integration's row.

The lock is a compare-and-set in one UPDATE (`locked_until`, `lock_token`), so it works the same
on SQLite and PostgreSQL and across processes and machines. It is a short lease
(LEADSYNC_LOCK_TTL_SECONDS, two minutes): a holder renews it as its work goes on (every page of a
pull, before every call of a push), so a killed worker holds its integration back for at most that
long, and the next sync takes it over. A holder that finds its lease taken over stops (LockLost):
a run never outlives its lock.
"""

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from connectors.exceptions import LeadSyncError
from mappings.models import Integration

def lock_ttl() -> timedelta:
    return timedelta(seconds=settings.LEADSYNC_LOCK_TTL_SECONDS)


class SyncBusy(LeadSyncError):
    """Another sync of this integration holds its lock."""


class LockLost(LeadSyncError):
    """The lease ran out and another sync took the integration over: this one must stop."""


def integration_lock_acquire(*, integration: Integration) -> str:
    """Take the integration's lock and return its token; SyncBusy while another holder's lease
    runs. An expired lease (a killed worker) is taken over."""
    token = uuid.uuid4().hex
    now = timezone.now()
    taken = Integration.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now), pk=integration.pk
    ).update(locked_until=now + lock_ttl(), lock_token=token)
    if not taken:
        raise SyncBusy(f"Another sync of {integration} is running.")
    return token


def integration_lock_renew(*, integration: Integration, token: str) -> bool:
    """Extend the lease of the holder of `token`; False when it no longer holds the lock."""
    return bool(Integration.objects.filter(pk=integration.pk, lock_token=token)
                .update(locked_until=timezone.now() + lock_ttl()))


def integration_lock_take_over(*, integration: Integration) -> tuple[str, datetime | None]:
    """Take the integration's lock whoever holds it (a teardown stops a running sync this way: its
    next renewal fails). Returns the token and, when another holder's lease was still running, when
    it would have ended (None when the lock was free or expired)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    before = Integration.objects.filter(pk=integration.pk).values_list("locked_until", flat=True).first()
    Integration.objects.filter(pk=integration.pk).update(locked_until=now + lock_ttl(), lock_token=token)
    return token, (before if before and before > now else None)


def integration_lock_release(*, integration: Integration, token: str) -> None:
    Integration.objects.filter(pk=integration.pk, lock_token=token).update(locked_until=None, lock_token="")


@dataclass(eq=False)
class IntegrationLock:
    """A held lock: what the work under it renews as it goes."""

    integration: Integration
    token: str
    renewed: float = field(default_factory=time.monotonic)  # when the lease was last extended

    def renew(self) -> None:
        """Extend the lease; LockLost when another sync has taken the integration over. Within a
        tenth of the lease of the last extension, the lock is only checked (a read, not a write):
        a sync renews at every page and CRM call, many times a second."""
        now = time.monotonic()
        if now - self.renewed < lock_ttl().total_seconds() / 10:
            held = Integration.objects.filter(pk=self.integration.pk, lock_token=self.token).exists()
        else:
            held = integration_lock_renew(integration=self.integration, token=self.token)
            if held:
                self.renewed = now
        if not held:
            self.lost()

    def lost(self) -> None:
        """LockLost, saying why: the integration was torn down, or another sync took it over."""
        state = Integration.objects.filter(pk=self.integration.pk).values_list("state", flat=True).first()
        if state == Integration.State.TORN_DOWN:
            raise LockLost(f"The sync of {self.integration} stopped: the integration was torn down while it ran.")
        raise LockLost(f"The sync of {self.integration} stopped: its lock ran out and another sync took it "
                       "over (a step took longer than LEADSYNC_LOCK_TTL_SECONDS).")


def locks_renew(locks) -> None:
    """IntegrationLock.renew of each of `locks` (the members of one pull, at every page), with the
    locks that only need checking checked in one query for the lot."""
    now = time.monotonic()
    fresh = [lock for lock in locks if now - lock.renewed < lock_ttl().total_seconds() / 10]
    if len(fresh) > 1:
        tokens = dict(Integration.objects.filter(pk__in=[lock.integration.pk for lock in fresh])
                      .values_list("pk", "lock_token"))
        for lock in fresh:
            if tokens.get(lock.integration.pk) != lock.token:
                lock.lost()
    else:
        fresh = []
    for lock in locks:
        if lock not in fresh:
            lock.renew()


@contextmanager
def integration_locked(*, integration: Integration):
    """Hold the integration's lock for the block (SyncBusy, before the block runs, when another
    holds it); it is released however the block ends."""
    token = integration_lock_acquire(integration=integration)
    try:
        yield IntegrationLock(integration, token)
    finally:
        integration_lock_release(integration=integration, token=token)
