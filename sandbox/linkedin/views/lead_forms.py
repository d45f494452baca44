"""Lead gen forms under rest/leadForms: the owner finder and single forms (latest or one version)."""

from .. import serializers
from ..api import (
    access_denied, api_view, finder, not_found, page, required, require_scope, restli_json, union_value,
)
from ..models import LeadForm, LeadFormVersion
from ..restli import parse_versioned_form_urn
from ..selectors import forms_for_owner, member_can_read_owner

FORM_SCOPES = ("r_marketing_leadgen_automation",)
EVENT_FORM_SCOPES = ("r_marketing_leadgen_automation", "r_events_leadgen_automation")
OWNER_KEYS = ("organization", "sponsoredAccount")


def check_form_access(request, owner_key, owner_id):
    require_scope(request, *(EVENT_FORM_SCOPES if owner_key == "organization" else FORM_SCOPES))
    if not member_can_read_owner(request.li_member, owner_key, owner_id):
        raise access_denied(
            f"Member is not an ADMINISTRATOR or LEAD_GEN_FORMS_MANAGER of {owner_key} {owner_id}"
            if owner_key == "organization" else f"Member has no access to ad account {owner_id}"
        )


@api_view()
def lead_forms(request, params):
    finder(params, "owner")
    owner_key, owner = union_value(required(params, "owner"), "owner", OWNER_KEYS)
    check_form_access(request, owner_key, int(owner.id))
    published = [(f, f.latest_version) for f in forms_for_owner(owner_key, int(owner.id))]
    pairs = [(form, version) for form, version in published if version]
    return restli_json(page(request, params, pairs, render=lambda pair: serializers.lead_form(*pair)))


@api_view()
def lead_form_detail(request, params, key):
    """GET leadForms/{id} (latest version) or leadForms/{versionedLeadGenForm URN} (that version)."""
    versioned = parse_versioned_form_urn(key)
    if versioned:
        form_id, number = versioned
    elif key.isdigit():
        form_id, number = int(key), None
    else:
        raise not_found(f"Lead form {key!r} not found")
    form = LeadForm.objects.filter(id=form_id).first()
    if form is None:
        raise not_found(f"Lead form {form_id} not found")
    owner_key = "sponsoredAccount" if form.ad_account_id else "organization"
    check_form_access(request, owner_key, form.ad_account_id or form.organization_id)
    version = (
        LeadFormVersion.objects.filter(form=form, version=number).first() if number else form.latest_version
    )
    if version is None:
        raise not_found(f"Lead form {form_id} has no version {number}")
    return restli_json(serializers.lead_form(form, version))
