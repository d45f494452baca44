"""Lead notification subscriptions under rest/leadNotifications: create, find by criteria, get, delete."""

from urllib.parse import urlsplit

from django.http import HttpResponse

from .. import serializers, webhooks
from ..api import (
    RestliError, api_view, finder, illegal_argument, json_body, not_found, page, required, restli_json,
    union_value,
)
from ..models import LeadNotification, LeadType, SandboxSettings
from ..restli import parse_urn
from ..selectors import owner_key_and_id
from ..services import notification_create
from .lead_responses import OWNER_KEYS, _check_access, _lead_type


def _owner_from_body(value):
    if not isinstance(value, dict) or len(value) != 1:
        raise illegal_argument('owner must be {"organization": urn} or {"sponsoredAccount": urn}')
    ((key, urn),) = value.items()
    if key not in OWNER_KEYS or parse_urn(urn, key) is None:
        raise illegal_argument(f"Invalid owner {value!r}")
    return {key: urn}


def _create(request):
    body = json_body(request)
    webhook = body.get("webhook")
    parts = urlsplit(webhook) if isinstance(webhook, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise illegal_argument(f"webhook must be an absolute URL, got {webhook!r}")
    owner = _owner_from_body(body.get("owner"))
    lead_type = body.get("leadType")
    if lead_type not in LeadType.values:
        raise illegal_argument(f"leadType must be one of {', '.join(LeadType.values)}, got {lead_type!r}")
    _check_access(request, *owner_key_and_id(owner), lead_type)
    versioned_form = body.get("versionedForm") or ""
    if versioned_form and parse_urn(versioned_form, "versionedLeadGenForm") is None:
        raise illegal_argument(f"versionedForm must be a versionedLeadGenForm URN, got {versioned_form!r}")
    associated = body.get("associatedEntity")
    if associated is not None and (
        not isinstance(associated, dict) or len(associated) != 1 or parse_urn(next(iter(associated.values()))) is None
    ):
        raise illegal_argument(f'associatedEntity must be like {{"event": "urn:li:event:1"}}, got {associated!r}')
    if SandboxSettings.load().validate_webhooks:
        problem = webhooks.validate(webhook)
        if problem:
            raise illegal_argument(f"Webhook validation failed: {problem}")
    sub, _ = notification_create(
        member=request.li_member, webhook=webhook, owner=owner, lead_type=lead_type,
        versioned_form=versioned_form, associated_entity=associated,
    )
    response = HttpResponse(status=201)
    response["x-restli-id"] = str(sub.id)
    response["Location"] = f"{request.path.rstrip('/')}/{sub.id}"
    return response


def _find(request, params):
    finder(params, "criteria")
    owner_value = required(params, "owner")
    if not isinstance(owner_value, dict) or set(owner_value) != {"value"}:
        raise illegal_argument(
            f"Invalid value for 'owner': expected (value:(organization:urn%3A…)), got {owner_value!r}"
        )
    owner_key, owner = union_value(owner_value["value"], "owner", OWNER_KEYS)
    lead_type = _lead_type(params)
    _check_access(request, owner_key, int(owner.id), lead_type)
    owner_dict = {owner_key: str(owner)}
    subs = [s for s in LeadNotification.objects.filter(lead_type=lead_type).order_by("id") if s.owner == owner_dict]
    return restli_json(page(request, params, subs, render=serializers.lead_notification))


@api_view(methods=("GET", "POST"))
def lead_notifications(request, params):
    if request.method == "POST":
        return _create(request)
    return _find(request, params)


@api_view(methods=("GET", "DELETE"))
def lead_notification_detail(request, params, sub_id):
    sub = LeadNotification.objects.filter(id=sub_id).first()
    if sub is None:
        raise not_found(f"Lead notification subscription {sub_id} not found")
    try:
        _check_access(request, *owner_key_and_id(sub.owner), sub.lead_type)
    except RestliError:
        raise not_found(f"Lead notification subscription {sub_id} not found") from None
    if request.method == "DELETE":
        sub.delete()
        return HttpResponse(status=204)
    return restli_json(serializers.lead_notification(sub))
