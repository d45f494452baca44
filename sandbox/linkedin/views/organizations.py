"""Discovery endpoints under rest/: organization ACLs and pages, ad accounts, events."""

from .. import serializers
from ..api import (
    access_denied, finder, illegal_argument, not_found, page, required, require_scope, restli_json, urn_value,
    api_view,
)
from ..models import AdAccount, Event, Organization, OrganizationRole

ORG_SCOPES = ("r_organization_admin", "rw_organization_admin")
ADS_SCOPES = ("r_ads", "rw_ads")
EVENT_SCOPES = ("r_events", "rw_events", "r_events_leadgen_automation")


@api_view()
def organization_acls(request, params):
    """The member's roles; paging has no `total` on LinkedIn."""
    require_scope(request, *ORG_SCOPES)
    finder(params, "roleAssignee")
    roles = OrganizationRole.objects.filter(member=request.li_member).select_related("organization", "member")
    if "role" in params:
        if params["role"] not in OrganizationRole.Role.values:
            raise illegal_argument(f"Unknown role {params['role']!r}")
        roles = roles.filter(role=params["role"])
    if "state" in params:
        if params["state"] not in OrganizationRole.State.values:
            raise illegal_argument(f"Unknown state {params['state']!r}")
        roles = roles.filter(state=params["state"])
    return restli_json(page(request, params, list(roles.order_by("id")), include_total=False,
                            render=serializers.organization_acl))


@api_view()
def organizations(request, params):
    """Batch get: ids=List(1,2) → {results, statuses, errors}."""
    require_scope(request, *ORG_SCOPES)
    ids = required(params, "ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.isdigit() for i in ids):
        raise illegal_argument(f"Parameter 'ids' must be a Rest.li list of ids like List(123,456), got {ids!r}")
    found = {org.id: org for org in Organization.objects.filter(id__in=[int(i) for i in ids])}
    results, statuses, errors = {}, {}, {}
    for key in ids:
        org = found.get(int(key))
        if org is None:
            statuses[key] = 404
            errors[key] = {"status": 404, "code": "RESOURCE_NOT_FOUND", "message": f"Organization {key} not found"}
        else:
            statuses[key] = 200
            results[key] = serializers.organization(org)
    return restli_json({"results": results, "statuses": statuses, "errors": errors})


@api_view()
def organization_detail(request, params, org_id):
    require_scope(request, *ORG_SCOPES)
    org = Organization.objects.filter(id=org_id).first()
    if org is None:
        raise not_found(f"Organization {org_id} not found")
    return restli_json(serializers.organization(org))


def _search_values(search, name):
    """search=(status:(values:List(ACTIVE))) → ["ACTIVE"]; None when the criterion is absent."""
    if name not in search:
        return None
    criterion = search[name]
    if not isinstance(criterion, dict) or not isinstance(criterion.get("values"), list):
        raise illegal_argument(f"search.{name} must look like ({name}:(values:List(…)))")
    return criterion["values"]


@api_view()
def ad_accounts(request, params):
    """q=search over the accounts the member can use, filtered by status, test and reference."""
    require_scope(request, *ADS_SCOPES)
    finder(params, "search")
    accounts = AdAccount.objects.filter(users=request.li_member).select_related("organization").order_by("id")
    search = params.get("search", {})
    if not isinstance(search, dict):
        raise illegal_argument(f"Parameter 'search' must be a Rest.li object, got {search!r}")
    statuses = _search_values(search, "status")
    if statuses is not None:
        accounts = accounts.filter(status__in=statuses)
    if "test" in search:
        if search["test"] not in ("true", "false"):
            raise illegal_argument("search.test must be true or false")
        accounts = accounts.filter(test=search["test"] == "true")
    references = _search_values(search, "reference")
    if references is not None:
        ids = [int(urn_value(r, "search.reference", "organization").id) for r in references]
        accounts = accounts.filter(organization_id__in=ids)
    return restli_json(page(request, params, list(accounts.distinct()), render=serializers.ad_account))


@api_view()
def events(request, params):
    """q=eventsByOrganizer: a page's events, with `leadGenForm` only where a form is attached."""
    require_scope(request, *EVENT_SCOPES)
    finder(params, "eventsByOrganizer")
    organizer = urn_value(required(params, "organizer"), "organizer", "organization")
    if not Organization.objects.filter(id=int(organizer.id)).exists():
        raise not_found(f"Organization {organizer.id} not found")
    if not OrganizationRole.objects.filter(
        member=request.li_member, organization_id=int(organizer.id), state=OrganizationRole.State.APPROVED
    ).exists():
        raise access_denied(f"Member has no approved role on {organizer}")
    qs = Event.objects.filter(organizer_id=int(organizer.id)).select_related("organizer", "lead_form").order_by("id")
    return restli_json(page(request, params, list(qs), render=serializers.event))
