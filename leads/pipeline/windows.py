"""Which leads a pull asks LinkedIn for: the [start, end) window of `submittedAt`.

A scheduled pull starts a little before the watermark (the overlap) so that a lead LinkedIn made
visible late is still found; a backfill (LGF-107) names its own window, up to 90 days, or a moment
up to a year back (LinkedIn keeps leads for a year)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from mappings.models import Integration

MAX_BACKFILL_DAYS = 90
MAX_SINCE = timedelta(days=365)


def sync_window(*, integration: Integration, days=None, since=None, now=None):
    """The [start, end) window of a pull. Explicit `days`/`since` (a backfill, LGF-107) win;
    otherwise from the watermark minus the overlap, or the last LEADSYNC_INITIAL_DAYS for a
    first run. ValueError for a window that makes no sense (the message names the option)."""
    now = now or timezone.now()
    if days is not None:
        if not 1 <= days <= MAX_BACKFILL_DAYS:
            raise ValueError(f"--days must be between 1 and {MAX_BACKFILL_DAYS}.")
        return now - timedelta(days=days), now
    if since is not None:
        if since >= now:
            raise ValueError("--since must be in the past.")
        if since < now - MAX_SINCE:
            raise ValueError("--since can go back at most 365 days (LinkedIn keeps leads for a year).")
        return since, now
    if integration.watermark:
        return integration.watermark - timedelta(minutes=settings.LEADSYNC_PULL_OVERLAP_MINUTES), now
    return now - timedelta(days=settings.LEADSYNC_INITIAL_DAYS), now
