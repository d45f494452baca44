"""Is the machinery behind the syncs alive: the broker, a worker, beat. Each probe has a short
timeout and the answers are cached for a few seconds, so an admin page never waits long on a dead
broker and a busy admin does not ping the workers on every click."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu import Connection

CACHE_KEY = "leadsync:celery-health"
CACHE_SECONDS = 10
TIMEOUT_SECONDS = 1.0
# DatabaseScheduler writes last_run_at back every few minutes (beat_sync_every, 3 min by default):
# a task is only called late once it is overdue by more than that.
BEAT_GRACE = timedelta(minutes=5)


def broker_check(url=None, *, timeout=TIMEOUT_SECONDS) -> None:
    """Raise when the broker cannot be reached within `timeout` seconds (also /healthz's check)."""
    with Connection(url or settings.CELERY_BROKER_URL, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def worker_ping(*, timeout=TIMEOUT_SECONDS) -> list[str]:
    """The names of the workers that answered a ping within `timeout` seconds."""
    from leadsync_project.celery import app

    with app.connection_for_write() as conn:
        replies = app.control.ping(timeout=timeout, connection=conn) or []
    return sorted(name for reply in replies for name in reply)


def next_due(task, *, now=None):
    """When beat will next run `task` (a django-celery-beat PeriodicTask with its interval or crontab
    loaded), from the entry's own schedule: the schedule's remaining_estimate from the moment beat
    counts from (its last run, else its last change, as the DatabaseScheduler does). None when it
    is disabled or has neither an interval nor a crontab. May be in the past: it is then overdue."""
    now = now or timezone.now()
    if not task.enabled:
        return None
    if task.interval_id:
        schedule = task.interval.schedule
    elif task.crontab_id:
        schedule = task.crontab.schedule
    else:
        return None
    if task.start_time and not task.last_run_at and task.start_time > now:
        return task.start_time
    since = task.last_run_at or task.date_changed or now
    # remaining_estimate counts from the schedule's own clock (the real now), not the caller's.
    return timezone.now() + schedule.remaining_estimate(since)


SCHEDULE_FIELDS = ("name", "enabled", "last_run_at", "date_changed", "start_time", "interval__every",
                   "interval__period", "crontab__minute", "crontab__hour", "crontab__day_of_week",
                   "crontab__day_of_month", "crontab__month_of_year", "crontab__timezone")


def beat_state(*, now=None) -> dict:
    """Beat's last tick as the database scheduler recorded it (the newest last_run_at of an enabled
    entry), and whether an entry (interval or crontab) is overdue by more than BEAT_GRACE, which
    means beat is not running."""
    now = now or timezone.now()
    tasks = list(PeriodicTask.objects.filter(Q(interval__isnull=False) | Q(crontab__isnull=False), enabled=True)
                 .select_related("interval", "crontab").only(*SCHEDULE_FIELDS))
    last = max((t.last_run_at for t in tasks if t.last_run_at), default=None)
    overdue = []
    for t in tasks:
        if t.last_run_at is None and t.date_changed is None and t.start_time is None:
            continue
        due = next_due(t, now=now)
        if due is not None and due + BEAT_GRACE < now:
            overdue.append(t.name)
    return {"last_tick": last, "overdue": overdue, "ok": not overdue,
            "scheduler": settings.CELERY_BEAT_SCHEDULER,
            "database_scheduler": _database_scheduler(settings.CELERY_BEAT_SCHEDULER)}


def _database_scheduler(path: str) -> bool:
    """Whether beat's scheduler keeps its schedules in the database (django-celery-beat's, or one built
    on it such as leadsync_project.beat's)."""
    from django.utils.module_loading import import_string
    from django_celery_beat.schedulers import DatabaseScheduler

    try:
        scheduler = import_string(path.replace(":", "."))
    except ImportError:
        return False
    return isinstance(scheduler, type) and issubclass(scheduler, DatabaseScheduler)


def celery_health(*, use_cache=True) -> dict:
    """Broker reachable, workers answering, beat ticking: cached for CACHE_SECONDS. An in-memory
    broker (tests) has no separate worker to ask, so it is reported as not checked."""
    if use_cache:
        cached = cache.get(CACHE_KEY)
        if cached is not None:
            return cached
    url = settings.CELERY_BROKER_URL
    health = {"checked_at": timezone.now(), "broker": "ok", "broker_error": "", "workers": [],
              "worker": "not checked", "eager": bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))}
    if url.startswith("memory://"):
        health.update(broker="not checked", worker="not checked")
    else:
        try:
            broker_check(url)
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            health.update(broker="down", broker_error=type(exc).__name__, worker="unknown")
        else:
            try:
                health["workers"] = worker_ping()
            except Exception as exc:  # noqa: BLE001
                health.update(worker="unknown", broker_error=type(exc).__name__)
            else:
                health["worker"] = "ok" if health["workers"] else "down"
    health["beat"] = beat_state()
    cache.set(CACHE_KEY, health, CACHE_SECONDS)
    return health


def celery_alerts(health: dict) -> list[dict]:
    """What the banner says about the machinery."""
    alerts = []
    if health["broker"] == "down":
        alerts.append({"level": "error", "key": "broker",
                       "message": f"The Celery broker does not answer ({health['broker_error']}): scheduled syncs, "
                                  "retries and the admin's queued actions cannot run. Start Redis (CELERY_BROKER_URL)."})
    elif health["worker"] == "down":
        alerts.append({"level": "error", "key": "worker",
                       "message": f"No Celery worker answered a ping within {TIMEOUT_SECONDS:g} s: queued syncs wait "
                                  "until one runs (celery -A leadsync_project worker). No lead is lost meanwhile."})
    beat = health["beat"]
    if not beat["ok"]:
        names = ", ".join(beat["overdue"][:3]) + (" …" if len(beat["overdue"]) > 3 else "")
        alerts.append({"level": "error", "key": "beat",
                       "message": f"Celery beat has not ticked: {len(beat['overdue'])} schedule"
                                  f"{'s are' if len(beat['overdue']) != 1 else ' is'} overdue ({names}). "
                                  "Start it (celery -A leadsync_project beat)."})
    return alerts
