"""LinkedIn's time format: every moment (submittedAt, occurredAt, an event's start and end, a
finder's time range) is an integer of milliseconds since the Unix epoch, in UTC."""

from datetime import datetime, timezone


def epoch_ms(moment: datetime) -> int:
    """A datetime as LinkedIn's epoch milliseconds."""
    return int(moment.timestamp() * 1000)


def from_epoch_ms(value) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime; None for anything that is not a whole number
    of milliseconds a datetime can hold (a bool, text, NaN, a year past 9999)."""
    if isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
