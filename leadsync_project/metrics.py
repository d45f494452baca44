"""`/metrics` for Prometheus (prometheus-client), not public.

Nearly everything is read from the database at scrape time by one collector, so every web process
of every machine answers the same figures and nothing is lost when a worker restarts: leads by
integration and state, what the runs pulled, created, updated and failed, runs by trigger and
outcome, each integration's last run (duration, when it last succeeded), the lag from submission on
LinkedIn to the CRM of the leads synced in the last hour, the oldest lead still waiting, the days
left of each LinkedIn token, lead notifications by state and beat's last tick; and, from Redis, the
tasks waiting in each Celery queue.

Celery task counts are the exception: they happen in the workers, not in the web process that is
scraped. The task signals (leadsync_project/celery.py) add them up in Redis (HINCRBY on one hash of
the broker's database, atomic across every worker of every machine), and the collector reads the
hash. With a broker that is not Redis (the tests' in-memory one) they are counted in the process.
Counters restart from zero when that hash is flushed; Prometheus's rate() copes with that.

Access: `Authorization: Bearer $LEADSYNC_METRICS_TOKEN` (for Prometheus), or the session of a
superuser or of a staff user allowed to view sync runs and LinkedIn connections (VIEWER_PERMISSIONS).
Anyone else gets 403, and so does every
request when no token is set and no such user is logged in."""

import hmac
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Min, Sum
from django.db.models.functions import Length
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

LAG_WINDOW = timedelta(hours=1)
TASKS_KEY = "leadsync:metrics:celery-tasks"
TASK_OUTCOMES = ("started", "succeeded", "failed", "retried")
# The figures name connections and their tokens' days: a session needs to see both runs and
# connections (the "Lead sync admins" group can; the "Lead reviewers", who never see connections,
# cannot).
VIEWER_PERMISSIONS = ("leads.view_syncrun", "connectors.view_linkedinconnection")


# --- Celery task counts (written by the workers) ------------------------------------------------

_local_counts: dict[tuple[str, str], int] = {}
_local_lock = threading.Lock()
_redis = {}


def _redis_client():
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = _redis.get(url)
    if client is None:
        import redis

        client = _redis[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return client


def task_event(name: str, outcome: str) -> None:
    """Count one start, success, failure or retry of the task `name`. Never raises: a metric that
    cannot be counted (Redis away) is lost, the task goes on."""
    try:
        client = _redis_client()
        if client is None:
            with _local_lock:
                _local_counts[(name, outcome)] = _local_counts.get((name, outcome), 0) + 1
        else:
            client.hincrby(TASKS_KEY, f"{name}|{outcome}", 1)
    except Exception as exc:  # noqa: BLE001 - metrics never break a task
        logger.debug("task %s %s not counted: %s", name, outcome, type(exc).__name__)


def task_counts() -> dict[tuple[str, str], int]:
    """{(task name, outcome): count}, fleet-wide when the broker is Redis."""
    client = _redis_client()
    if client is None:
        with _local_lock:
            return dict(_local_counts)
    counts = {}
    for field, value in client.hgetall(TASKS_KEY).items():
        name, _, outcome = field.decode().rpartition("|")
        counts[(name, outcome)] = int(value)
    return counts


def queue_lengths() -> dict[str, int]:
    """{queue: tasks waiting in it} for every queue Celery declares (LLEN of kombu's list per queue),
    when the broker is Redis; {} otherwise."""
    client = _redis_client()
    if client is None:
        return {}
    names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(name)
        return dict(zip(names, pipe.execute()))


# --- What the database says ---------------------------------------------------------------------

def _seconds(delta):
    return None if delta is None else delta.total_seconds()


class LeadSyncCollector:
    """Reads the figures at each scrape: a fixed number of aggregate queries, whatever the number
    of leads or integrations."""

    def collect(self):
        from connectors.models import LinkedInConnection
        from leads.health import beat_state
        from leads.models import Lead, LeadNotification, SyncRun
        from mappings.models import Integration

        now = timezone.now()
        integrations = {i["pk"]: i for i in Integration.objects.values("pk", "name", "state")}

        def labels(pk):
            return [str(pk), (integrations.get(pk) or {}).get("name", "")]

        leads = GaugeMetricFamily("leadsync_leads", "Leads stored, by integration and state.",
                                  labels=["integration", "name", "state"])
        for row in Lead.objects.values("integration_id", "state").annotate(n=Count("pk")).order_by():
            leads.add_metric(labels(row["integration_id"]) + [row["state"]], row["n"])
        yield leads

        state = GaugeMetricFamily("leadsync_integration_state", "1 for each integration's state.",
                                  labels=["integration", "name", "state"])
        for pk, row in integrations.items():
            state.add_metric(labels(pk) + [row["state"]], 1)
        yield state

        kinds = ("pulled", "new", "created", "updated", "failed", "skipped")
        run_leads = CounterMetricFamily(
            "leadsync_run_leads", "Leads the sync runs pulled from LinkedIn, stored new, created and updated in the "
            "CRM, saw refused and skipped, by integration.", labels=["integration", "name", "kind"])
        for row in SyncRun.objects.values("integration_id").annotate(**{k: Sum(k) for k in kinds}).order_by():
            for kind in kinds:
                run_leads.add_metric(labels(row["integration_id"]) + [kind], row[kind] or 0)
        yield run_leads

        runs = CounterMetricFamily("leadsync_sync_runs", "Sync runs, by trigger and state (outcome).",
                                   labels=["trigger", "state"])
        for row in SyncRun.objects.values("trigger", "state").annotate(n=Count("pk")).order_by():
            runs.add_metric([row["trigger"], row["state"]], row["n"])
        yield runs

        yield from self._last_runs(SyncRun, labels)
        yield from self._lag(Lead, now, labels)
        yield from self._tokens(LinkedInConnection, now)

        notes = GaugeMetricFamily("leadsync_lead_notifications", "LinkedIn lead notifications, by state.",
                                  labels=["state"])
        for row in LeadNotification.objects.values("state").annotate(n=Count("pk")).order_by():
            notes.add_metric([row["state"]], row["n"])
        yield notes

        beat = beat_state(now=now)
        tick = GaugeMetricFamily("leadsync_beat_last_tick_timestamp_seconds",
                                 "When beat last ran a scheduled entry (Unix time; absent before its first).")
        if beat["last_tick"]:
            tick.add_metric([], beat["last_tick"].timestamp())
        yield tick
        yield GaugeMetricFamily("leadsync_beat_overdue_entries", "Interval entries beat is late for.",
                                value=len(beat["overdue"]))

        tasks = CounterMetricFamily("leadsync_celery_tasks", "Celery tasks started, succeeded, failed and retried, "
                                    "by task, counted by the workers.", labels=["task", "outcome"])
        try:
            for (name, outcome), n in sorted(task_counts().items()):
                tasks.add_metric([name, outcome], n)
        except Exception as exc:  # noqa: BLE001 - the broker away: the rest of the scrape still answers
            logger.warning("celery task counts unavailable: %s", type(exc).__name__)
        yield tasks

        queued = GaugeMetricFamily("leadsync_celery_queue_length", "Tasks waiting in each Celery queue (webhooks, "
                                   "sync, push, maintenance, celery): not yet taken by a worker.", labels=["queue"])
        try:
            for queue, n in queue_lengths().items():
                queued.add_metric([queue], n)
        except Exception as exc:  # noqa: BLE001 - the broker away: the rest of the scrape still answers
            logger.warning("celery queue lengths unavailable: %s", type(exc).__name__)
        yield queued

    @staticmethod
    def _last_runs(SyncRun, labels):
        finished = SyncRun.objects.filter(finished_at__isnull=False, started_at__isnull=False)
        last = (finished.values("integration_id").annotate(at=Max("finished_at")).order_by())
        last_ok = (finished.filter(state=SyncRun.State.SUCCEEDED).values("integration_id")
                   .annotate(at=Max("finished_at")).order_by())
        duration = GaugeMetricFamily("leadsync_sync_last_duration_seconds",
                                     "How long each integration's last finished run took.",
                                     labels=["integration", "name"])
        ends = {row["integration_id"]: row["at"] for row in last}
        rows = finished.filter(finished_at__in=set(ends.values())).values_list("integration_id", "started_at",
                                                                               "finished_at")
        for pk, started, ended in rows:
            if ends.get(pk) == ended:
                duration.add_metric(labels(pk), (ended - started).total_seconds())
        yield duration
        success = GaugeMetricFamily("leadsync_sync_last_success_timestamp_seconds",
                                    "When each integration's last successful run ended (Unix time).",
                                    labels=["integration", "name"])
        for row in last_ok:
            success.add_metric(labels(row["integration_id"]), row["at"].timestamp())
        yield success

    @staticmethod
    def _lag(Lead, now, labels):
        lag = ExpressionWrapper(F("synced_at") - F("submitted_at"), output_field=DurationField())
        recent = (Lead.objects.filter(synced_at__gte=now - LAG_WINDOW, state=Lead.State.SYNCED)
                  .values("integration_id").annotate(avg=Avg(lag), max=Max(lag), n=Count("pk")).order_by())
        family = GaugeMetricFamily(
            "leadsync_lead_lag_seconds", f"From submission on LinkedIn to the CRM, over the leads synced in the last "
            f"{int(LAG_WINDOW.total_seconds() // 60)} minutes, by integration (avg and max).",
            labels=["integration", "name", "stat"])
        for row in recent:
            for stat in ("avg", "max"):
                if row[stat] is not None:
                    family.add_metric(labels(row["integration_id"]) + [stat], _seconds(row[stat]))
        yield family
        waiting = Lead.objects.filter(state=Lead.State.PENDING).aggregate(oldest=Min("submitted_at"))["oldest"]
        yield GaugeMetricFamily("leadsync_lead_oldest_pending_seconds",
                                "Age of the oldest lead stored and not yet in the CRM (0 when none waits).",
                                value=_seconds(now - waiting) if waiting else 0)

    @staticmethod
    def _tokens(LinkedInConnection, now):
        days = GaugeMetricFamily("leadsync_linkedin_token_days_left",
                                 "Days until a LinkedIn connection's access or refresh token expires (negative: expired).",
                                 labels=["connection", "token"])
        status = GaugeMetricFamily("leadsync_linkedin_connection_status", "1 for each LinkedIn connection's status.",
                                   labels=["connection", "status"])
        rows = (LinkedInConnection.objects.annotate(refresh_length=Length("refresh_token"))
                .values_list("name", "status", "access_token_expires_at", "refresh_token_expires_at", "refresh_length"))
        for name, state, access, refresh, has_refresh in rows:
            status.add_metric([name, state], 1)
            if access:
                days.add_metric([name, "access"], (access - now).total_seconds() / 86400)
            if refresh and has_refresh:
                days.add_metric([name, "refresh"], (refresh - now).total_seconds() / 86400)
        yield days
        yield status


registry = CollectorRegistry(auto_describe=False)
registry.register(LeadSyncCollector())


def _allowed(request) -> bool:
    token = getattr(settings, "LEADSYNC_METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_staff
                and (user.is_superuser or user.has_perms(VIEWER_PERMISSIONS)))


@never_cache
@require_GET
def metrics_view(request):
    """The Prometheus text exposition of `registry`, for the token's bearer or allowed staff."""
    if not _allowed(request):
        return HttpResponseForbidden("metrics are not public", content_type="text/plain")
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
