"""Project-level views: the health check that load balancers and orchestrators probe."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from django.conf import settings

from leads.health import broker_check


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker():
    broker_check(settings.CELERY_BROKER_URL, timeout=2)


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 otherwise; says which failed, never why
    in detail (connection strings may hold credentials)."""
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
