"""The sandbox's own control endpoints (not LinkedIn's): fault switches and lead generation over
HTTP, so demos and scripts in other processes can steer the simulator without importing it."""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import serializers, switches
from ..models import Event, Lead, LeadForm
from ..services import LeadRejected, lead_delete, lead_submit


def _body(request):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def faults(request):
    """GET the switches; POST a JSON object of changes (see switches.settings_update)."""
    if request.method == "GET":
        return JsonResponse({"settings": switches.settings_as_dict(), "done": []})
    body = _body(request)
    if body is None:
        return JsonResponse({"error": "Send a JSON object"}, status=400)
    try:
        return JsonResponse(switches.settings_update(changes=body))
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)


def _delivery(d):
    return {"webhook": d.webhook, "status": d.status_code, "error": d.error}


@csrf_exempt
@require_http_methods(["POST"])
def leads(request):
    """POST {"form": id | "event": id, "count": 1, "test": false, "guest": false, "answers": {…}}:
    submit leads as members would; answers to every question are generated unless given."""
    body = _body(request)
    if body is None:
        return JsonResponse({"error": "Send a JSON object"}, status=400)
    event = Event.objects.filter(id=body["event"]).select_related("lead_form").first() if body.get("event") else None
    form = event.lead_form if event else LeadForm.objects.filter(id=body.get("form") or 0).first()
    if form is None:
        return JsonResponse({"error": "Give an existing 'form' id or an 'event' id with a lead gen form"}, status=400)
    count = body.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 500:
        return JsonResponse({"error": "count must be an integer from 1 to 500"}, status=400)
    created = []
    try:
        for _ in range(count):
            lead = lead_submit(
                form, answers=body.get("answers"), test=bool(body.get("test")), guest=bool(body.get("guest")),
                associated_event=event, shape=body.get("shape") or None,
            )
            created.append({**serializers.lead(lead), "deliveries": [_delivery(d) for d in lead.deliveries]})
    except LeadRejected as exc:
        return JsonResponse({"error": str(exc), "created": created}, status=400)
    return JsonResponse({"created": created}, status=201, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_http_methods(["DELETE"])
def lead_detail(request, lead_id):
    """DELETE a lead as LinkedIn would (subscribers get a DELETED notification)."""
    lead = Lead.objects.filter(id=lead_id).select_related("form_version__form").first()
    if lead is None:
        return JsonResponse({"error": f"No lead {lead_id}"}, status=404)
    deliveries = lead_delete(lead)
    return JsonResponse({"deleted": lead_id, "deliveries": [_delivery(d) for d in deliveries]})
