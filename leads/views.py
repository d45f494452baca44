"""LinkedIn's lead notification endpoint, /linkedin/webhook/.

LinkedIn gives a webhook 3 seconds: the view only checks the signature, stores the notification
and queues its processing, so it answers before any LinkedIn or CRM call is made."""

import logging

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leads.models import LeadNotification
from leads.tasks import process_lead_notification
from leads.webhooks import InvalidNotification, challenge_answered, challenge_response, notification_receive, signature_valid

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def linkedin_webhook(request):
    """GET answers LinkedIn's `challengeCode` validation; POST takes a signed notification.

    A stored notification is answered 200 even when the broker cannot take its task: the sweeper
    (leads.tasks.sweep_notifications) processes what is still waiting, so LinkedIn's delivery never
    depends on the broker being up. A body over LEADSYNC_WEBHOOK_MAX_BYTES is refused (413) before it is read or hashed. A POST
    whose signature does not check out is discarded (401) before its body is even parsed,
    and the body is never logged. A known notification is answered "duplicate" and not queued
    again, unless it is still waiting (its first queueing may have failed, which LinkedIn saw as
    an error and is now retrying)."""
    if not settings.LINKEDIN_CLIENT_SECRET:
        logger.error("LinkedIn webhook called, but LINKEDIN_CLIENT_SECRET is not set: it can neither answer the "
                     "challenge nor check signatures")
        return JsonResponse({"error": "The LinkedIn app is not configured."}, status=503)
    if request.method == "GET":
        code = request.GET.get("challengeCode")
        if not code:
            return JsonResponse({"error": "challengeCode is missing."}, status=400)
        answer = JsonResponse({"challengeCode": code, "challengeResponse": challenge_response(code)})
        challenge_answered()
        return answer

    limit = settings.LEADSYNC_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:  # refused before the body is read
        return JsonResponse({"error": f"The body is larger than {limit} bytes."}, status=413)
    raw_body = request.body
    if len(raw_body) > limit:
        return JsonResponse({"error": f"The body is larger than {limit} bytes."}, status=413)
    header = request.headers.get("X-LI-Signature")
    if not signature_valid(raw_body, header):
        logger.warning("LinkedIn webhook: %s X-LI-Signature from %s; the notification was discarded",
                       "a wrong" if header else "no", request.META.get("REMOTE_ADDR", "?"))
        return JsonResponse({"error": "Invalid signature."}, status=401)
    try:
        notification, created = notification_receive(raw_body)
    except InvalidNotification as exc:
        logger.warning("LinkedIn webhook: a signed body that is not a lead notification was refused: %s", exc)
        return JsonResponse({"error": str(exc)}, status=400)
    if created or notification.state == LeadNotification.State.RECEIVED:
        pk = notification.pk
        try:
            transaction.on_commit(lambda: process_lead_notification.delay(pk))
        except Exception as exc:  # noqa: BLE001 - the broker's many failure types
            # Stored is enough: the sweeper (every minute, and before every sync) processes it.
            logger.error("LinkedIn webhook: lead notification %s is stored but could not be queued (%s); the "
                         "sweeper processes it", pk, type(exc).__name__)
            return JsonResponse({"status": "accepted" if created else "duplicate", "queued": False})
    return JsonResponse({"status": "accepted" if created else "duplicate"})
