"""Leads under rest/leadFormResponses: the owner finder with its filters and paging, and single leads."""

from .. import serializers, switches
from ..api import (
    access_denied, api_view, bool_param, finder, illegal_argument, not_found, paging, paging_window, required,
    require_scope, restli_json, union_value, urn_value,
)
from ..models import Lead, LeadType
from ..restli import parse_versioned_form_urn
from ..selectors import leads_for_owner, member_can_read_owner, owner_key_and_id, short_page

LEAD_SCOPES = ("r_marketing_leadgen_automation",)
EVENT_LEAD_SCOPES = ("r_marketing_leadgen_automation", "r_events_leadgen_automation")
OWNER_KEYS = ("organization", "sponsoredAccount")


def _check_access(request, owner_key, owner_id, lead_type):
    require_scope(request, *(EVENT_LEAD_SCOPES if lead_type == LeadType.EVENT else LEAD_SCOPES))
    if not member_can_read_owner(request.li_member, owner_key, owner_id):
        raise access_denied(
            f"Member is not an ADMINISTRATOR or LEAD_GEN_FORMS_MANAGER of {owner_key} {owner_id}"
            if owner_key == "organization" else f"Member has no access to ad account {owner_id}"
        )


def _lead_type(params):
    value = required(params, "leadType")
    if not isinstance(value, dict) or set(value) != {"leadType"} or value["leadType"] not in LeadType.values:
        raise illegal_argument(
            f"Invalid value for 'leadType': expected (leadType:{'|'.join(LeadType.values)}), got {value!r}"
        )
    return value["leadType"]


def _time_range(params):
    value = params.get("submittedAtTimeRange")
    if value is None:
        return None, None
    if not isinstance(value, dict) or not value or set(value) - {"start", "end"}:
        raise illegal_argument(
            f"Invalid value for 'submittedAtTimeRange': expected (start:MS,end:MS), got {value!r}"
        )
    bounds = []
    for name in ("start", "end"):
        raw = value.get(name)
        if raw is not None and not (isinstance(raw, str) and raw.isdigit()):
            raise illegal_argument(f"submittedAtTimeRange.{name} must be epoch milliseconds, got {raw!r}")
        bounds.append(int(raw) if raw is not None else None)
    if None not in bounds and bounds[0] > bounds[1]:
        raise illegal_argument("submittedAtTimeRange.start is after submittedAtTimeRange.end")
    return bounds


@api_view()
def lead_form_responses(request, params):
    finder(params, "owner")
    owner_key, owner = union_value(required(params, "owner"), "owner", OWNER_KEYS)
    lead_type = _lead_type(params)
    _check_access(request, owner_key, int(owner.id), lead_type)
    start_ms, end_ms = _time_range(params)
    form_version = None
    if "versionedLeadGenFormUrn" in params:
        urn = urn_value(params["versionedLeadGenFormUrn"], "versionedLeadGenFormUrn", "versionedLeadGenForm")
        form_version = parse_versioned_form_urn(str(urn))
    associated = None
    if "associatedEntity" in params:
        associated = str(urn_value(params["associatedEntity"], "associatedEntity"))
    leads = leads_for_owner(
        owner_key=owner_key, owner_id=int(owner.id), lead_type=lead_type, start_ms=start_ms, end_ms=end_ms,
        form_version=form_version, associated_urn=associated,
        test_only=bool_param(params, "limitedToTestLeads", False),
    )
    short_pages, cap = switches.paging_switches()
    start, count = paging_window(params, cap=cap)
    if short_pages and count >= 3:
        window, total = short_page(leads, start, count)
    else:
        window, total = leads[start : start + count], len(leads)
    return restli_json({
        "elements": [serializers.lead(lead) for lead in window],
        "paging": paging(request, start, count, total),
    })


@api_view()
def lead_form_response_detail(request, params, key):
    lead_id = key.removeprefix("urn:li:leadGenFormResponse:")
    lead = Lead.objects.select_related("form_version__form").filter(id=lead_id).first()
    if lead is None:
        raise not_found(f"Lead form response {lead_id} not found")
    _check_access(request, *owner_key_and_id(lead.owner), lead.lead_type)
    return restli_json(serializers.lead(lead))
