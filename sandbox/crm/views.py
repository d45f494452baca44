"""HTTP for the sandbox CRM: the JSON-RPC endpoint and the fault switches. The protocol lives in rpc.py."""

import json
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import jsonio
from . import rpc, services
from .models import CrmAccount


@csrf_exempt
@require_POST
def pubapi(request):
    answer = rpc.rpc_handle(query=request.GET, raw_body=request.body)
    if answer.delay_ms:
        time.sleep(answer.delay_ms / 1000)  # the "slow answer" fault switch
    if answer.payload is not None:
        return jsonio.response(answer.payload, status=answer.status)
    return HttpResponse(answer.text, status=answer.status, content_type="text/plain; charset=utf-8")


def _fault_state(account):
    return {"account_id": account.account_id, "faults": services.fault_as_dict(services.fault_for(account=account))}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def faults(request):
    """GET ?account_id=… shows an account's fault switches; POST {"account_id", "reset"?, <switch>: value…}
    changes them. For tests and scripts; the admin and `sandbox_crm_fault` do the same for people."""
    if not (settings.DEBUG or getattr(settings, "LEADSYNC_SANDBOX", False)):
        raise Http404
    if request.method == "GET":
        data = {"account_id": request.GET.get("account_id", "")}
    else:
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return JsonResponse({"error": "the body must be a JSON object"}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    account = CrmAccount.objects.filter(account_id=data.pop("account_id", "")).first()
    if account is None:
        return JsonResponse({"error": "no sandbox CRM account with that account_id"}, status=404)
    if request.method == "POST":
        reset = bool(data.pop("reset", False))
        try:
            services.fault_set(account=account, changes=data, reset=reset)
        except ValidationError as exc:
            return JsonResponse({"error": exc.messages}, status=400)
    return JsonResponse(_fault_state(account))
