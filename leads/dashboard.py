"""What the admin's home page shows: connections and their tokens, integrations with their leads
and runs, webhook health and the Celery machinery. Plain reads, a fixed number of queries whatever
the number of leads (counts are aggregated in the database), so tests call it directly and the page
stays fast."""

from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Length, TruncDate
from django.utils import timezone

from connectors.models import CrmConnection, LinkedInConnection
from leads.health import BEAT_GRACE, celery_health, next_due
from leads.models import Lead, LeadAttempt, LeadNotification, SyncRun
from mappings.models import Integration

CHART_DAYS = 30


def day_start(now):
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def connections_overview(*, now) -> list[dict]:
    rows = (LinkedInConnection.objects.defer("access_token", "refresh_token")
            .annotate(refresh_token_length=Length("refresh_token")).order_by("name"))
    out = []
    for c in rows:
        def days(at):
            return None if at is None else (at - now).days
        out.append({"pk": c.pk, "name": c.name, "status": c.status, "status_label": c.get_status_display(),
                    "access_days": days(c.access_token_expires_at),
                    "refresh_days": days(c.refresh_token_expires_at) if c.refresh_token_length else None,
                    "last_heartbeat_at": c.last_heartbeat_at, "last_heartbeat_ok": c.last_heartbeat_ok})
    return out


FAILED_PUSH_WINDOW = timedelta(hours=24)


def crm_overview(*, now) -> list[dict]:
    """Each CRM connection: its last credentials check, how old its field catalogue is, its
    integrations (torn down too, as their list shows them) and the pushes it refused over the last
    24 hours (LeadAttempt: failed, or to be retried). Never the secret key."""
    refused = dict(LeadAttempt.objects.filter(at__gte=now - FAILED_PUSH_WINDOW,
                                              outcome__in=(LeadAttempt.Outcome.FAILED, LeadAttempt.Outcome.RETRY))
                   .values_list("lead__integration__crm_connection").annotate(n=Count("pk")).order_by())
    rows = (CrmConnection.objects.defer("secret_key")
            .annotate(integration_count=Count("integrations"))
            .order_by("name"))
    return [{"pk": c.pk, "name": c.name, "status": c.status, "status_label": c.get_status_display(),
             "last_checked_at": c.last_checked_at, "last_error": c.last_error,
             "fields_loaded_at": c.fields_loaded_at,
             "catalogue_days": None if c.fields_loaded_at is None else (now - c.fields_loaded_at).days,
             "integrations": c.integration_count, "refused_24h": refused.get(c.pk, 0)} for c in rows]


def integrations_overview(*, now) -> list[dict]:
    today = day_start(now)
    last_run = SyncRun.objects.filter(integration=OuterRef("pk")).order_by("-created_at", "-pk")
    rows = (Integration.objects.exclude(state=Integration.State.TORN_DOWN)
            .select_related("periodic_task__interval", "periodic_task__crontab")
            .annotate(leads_today=Count("leads", filter=Q(leads__submitted_at__gte=today)),
                      leads_7=Count("leads", filter=Q(leads__submitted_at__gte=today - timedelta(days=6))),
                      leads_30=Count("leads", filter=Q(leads__submitted_at__gte=today - timedelta(days=29))),
                      failed=Count("leads", filter=Q(leads__state=Lead.State.FAILED)),
                      last_run_state=Subquery(last_run.values("state")[:1]),
                      last_run_at=Subquery(last_run.values("created_at")[:1]),
                      last_run_pk=Subquery(last_run.values("pk")[:1], output_field=IntegerField()))
            .order_by("name"))
    out = []
    for i in rows:
        # Beat's own entry says when: its interval or crontab, from its last run.
        next_run = next_due(i.periodic_task, now=now) if i.state == Integration.State.ACTIVE and i.periodic_task \
            else None
        next_run_overdue = next_run is not None and next_run + BEAT_GRACE < now
        out.append({"pk": i.pk, "name": str(i), "state": i.state, "state_label": i.get_state_display(),
                    "last_run_state": i.last_run_state, "last_run_at": i.last_run_at, "last_run_pk": i.last_run_pk,
                    "next_run": next_run, "next_run_overdue": next_run_overdue,
                    "leads_today": i.leads_today, "leads_7": i.leads_7,
                    "leads_30": i.leads_30, "failed": i.failed, "needs_review": bool(i.mapping_review),
                    "subscriptions": len(i.webhook_subscriptions or [])})
    return out


def webhook_overview() -> dict:
    from leads.webhooks import last_challenge_answered

    last = LeadNotification.objects.order_by("-received_at").values_list("received_at", flat=True).first()
    waiting = LeadNotification.objects.filter(state=LeadNotification.State.RECEIVED).count()
    return {"last_notification_at": last, "waiting": waiting, "last_challenge_at": last_challenge_answered()}


def leads_per_day(*, now) -> dict:
    """Leads submitted per day per integration over the last CHART_DAYS days."""
    start = day_start(now) - timedelta(days=CHART_DAYS - 1)
    days = [(start + timedelta(days=n)).date() for n in range(CHART_DAYS)]
    series = {}
    rows = (Lead.objects.filter(submitted_at__gte=start).annotate(day=TruncDate("submitted_at"))
            .values("integration__name", "day").annotate(n=Count("pk")).order_by())
    for row in rows:
        series.setdefault(row["integration__name"], dict.fromkeys(days, 0))[row["day"]] = row["n"]
    return {"days": days, "series": {name: [per_day[d] for d in days] for name, per_day in sorted(series.items())}}


def outcomes_per_day(*, now) -> dict:
    """What the sync runs of each day did with leads: synced (created or updated), failed, skipped."""
    start = day_start(now) - timedelta(days=CHART_DAYS - 1)
    days = [(start + timedelta(days=n)).date() for n in range(CHART_DAYS)]
    per = {d: {"synced": 0, "failed": 0, "skipped": 0} for d in days}
    rows = (SyncRun.objects.filter(created_at__gte=start).annotate(day=TruncDate("created_at")).values("day")
            .annotate(created=Sum("created"), updated=Sum("updated"), failed=Sum("failed"), skipped=Sum("skipped"))
            .order_by())
    for row in rows:
        if row["day"] in per:
            per[row["day"]] = {"synced": row["created"] + row["updated"], "failed": row["failed"],
                               "skipped": row["skipped"]}
    return {"days": days, "series": {k: [per[d][k] for d in days] for k in ("synced", "failed", "skipped")}}


def dashboard(*, now=None, use_cache=True) -> dict:
    """Everything the admin's home page shows, as plain data."""
    now = now or timezone.now()
    integrations = integrations_overview(now=now)
    return {
        "now": now, "today": day_start(now), "since_7": day_start(now) - timedelta(days=6),
        "since_30": day_start(now) - timedelta(days=29),
        "connections": connections_overview(now=now),
        "crm_connections": crm_overview(now=now),
        "integrations": integrations,
        # Ignored leads were set aside by staff: not waiting for anyone, counted on their own.
        "failed_total": Lead.objects.filter(state=Lead.State.FAILED).count(),
        "ignored_total": Lead.objects.filter(state=Lead.State.IGNORED).count(),
        "review_total": sum(1 for i in integrations if i["needs_review"]),
        "subscriptions_total": sum(i["subscriptions"] for i in integrations),
        "webhooks": webhook_overview(),
        "celery": celery_health(use_cache=use_cache),
        "leads_per_day": leads_per_day(now=now),
        "outcomes_per_day": outcomes_per_day(now=now),
    }
