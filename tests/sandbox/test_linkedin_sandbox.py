"""The LinkedIn sandbox answers like LinkedIn: OAuth, headers, Rest.li errors, discovery, forms, leads
in three shapes, paging with short pages, notifications with signed webhooks, and fault switches."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sandbox.linkedin import seed_data, serializers, switches, tokens
from sandbox.linkedin.models import (
    AccessToken, Event, Grant, Lead, LeadForm, LeadNotification, Member, RefreshToken, SandboxSettings, WebhookDelivery,
)
from sandbox.linkedin.seed import seed
from sandbox.linkedin.services import lead_delete, lead_submit

pytestmark = pytest.mark.django_db

BASE = "/sandbox/linkedin"
ACME, ANGSTROM, GLOBEX, INITECH = seed_data.ACME, seed_data.ANGSTROM, seed_data.GLOBEX, seed_data.INITECH
ACME_OWNER = f"(organization:urn%3Ali%3Aorganization%3A{ACME})"
SUMMIT_FORM, SPONSORED_FORM = 6083001, 6083009
CLIENT_ID, CLIENT_SECRET = "test-client-id", "test-client-secret"
INVALID_GRANT = "The provided authorization grant or refresh token is invalid, expired or revoked"


@pytest.fixture(autouse=True)
def linkedin_app(settings):
    settings.LINKEDIN_CLIENT_ID = CLIENT_ID
    settings.LINKEDIN_CLIENT_SECRET = CLIENT_SECRET


@pytest.fixture
def seeded():
    return seed(leads=80, days=120, seed=7)


@pytest.fixture
def token(seeded):
    return seeded.tokens["access_token"]


@pytest.fixture
def alex(seeded):
    return Member.objects.get(person_id=seed_data.ALEX)


def token_with(member, scopes):
    """A token with other scopes, under another app so Alex's main token keeps working."""
    grant = Grant.objects.create(
        member=member, client_id="other-app", scopes=list(scopes),
        refresh_expires_at=timezone.now() + timedelta(days=365),
    )
    return tokens.tokens_issue(grant=grant).access.token


def api(client, path, token=None, *, version="202601", protocol="2.0.0", method="get", **kwargs):
    headers = {}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if version:
        headers["HTTP_LINKEDIN_VERSION"] = version
    if protocol:
        headers["HTTP_X_RESTLI_PROTOCOL_VERSION"] = protocol
    return getattr(client, method)(f"{BASE}/{path}", **headers, **kwargs)


def leads_url(owner=ACME_OWNER, lead_type="EVENT", extra=""):
    return f"rest/leadFormResponses?q=owner&owner={owner}&leadType=(leadType:{lead_type}){extra}"


def fetch_all(client, token, url, count=10):
    """Page like a correct client: advance by `count`, stop at start >= total or an empty page."""
    start, seen, pages = 0, [], []
    while True:
        body = api(client, f"{url}&start={start}&count={count}", token).json()
        pages.append(body)
        seen += body["elements"]
        start += count
        if not body["elements"] or start >= body["paging"]["total"]:
            return seen, pages


# --- headers and Rest.li errors ---------------------------------------------------------------


def test_missing_token_is_401_empty_access_token(client, seeded):
    response = api(client, "rest/organizationAcls?q=roleAssignee")
    assert response.status_code == 401
    assert response.json()["message"] == "Empty oauth2_access_token"


def test_unknown_token_is_invalid_access_token(client, seeded):
    body = api(client, "rest/organizationAcls?q=roleAssignee", "nope").json()
    assert (body["status"], body["serviceErrorCode"], body["code"]) == (401, 65600, "INVALID_ACCESS_TOKEN")


def test_expired_token_answers_65602(client, token):
    switches.settings_update(changes={"expire_access_tokens": True})
    response = api(client, "rest/organizationAcls?q=roleAssignee", token)
    assert response.status_code == 401
    assert response.json() == {
        "status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN",
        "message": "The token used in the request has expired",
    }


def test_revoked_token_answers_65601(client, token, alex):
    switches.tokens_revoke_for_member(member=alex)
    body = api(client, "rest/organizationAcls?q=roleAssignee", token).json()
    assert (body["serviceErrorCode"], body["code"]) == (65601, "REVOKED_ACCESS_TOKEN")


def test_missing_version_header_is_400_version_missing(client, token):
    response = api(client, "rest/organizationAcls?q=roleAssignee", token, version=None)
    assert response.status_code == 400
    assert response.json()["code"] == "VERSION_MISSING"


@pytest.mark.parametrize("version", ["202312", "2026", "20260101", "202613", "latest"])
def test_sunset_or_malformed_version_is_426(client, token, version):
    response = api(client, "rest/organizationAcls?q=roleAssignee", token, version=version)
    assert response.status_code == 426
    assert response.json()["code"] == "NONEXISTENT_VERSION"


def test_missing_restli_protocol_header_is_400(client, token):
    response = api(client, "rest/organizationAcls?q=roleAssignee", token, protocol=None)
    assert response.status_code == 400
    assert response["X-RestLi-Error-Response"] == "true"


def test_v2_endpoints_do_not_need_the_version_header(client, token):
    assert api(client, "v2/userinfo", token, version=None, protocol=None).status_code == 200


# --- OAuth ------------------------------------------------------------------------------------


def authorize(client, scope="r_marketing_leadgen_automation r_organization_admin", redirect="https://app.example/cb"):
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect, "state": "xyz", "scope": scope}
    page = client.get(f"{BASE}/oauth/v2/authorization", params)
    assert page.status_code == 200
    response = client.post(f"{BASE}/oauth/v2/authorization", {**params, "action": "allow"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def exchange(client, code, redirect="https://app.example/cb", **overrides):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **overrides}
    return client.post(f"{BASE}/oauth/v2/accessToken", data)


def refresh(client, refresh_token):
    return client.post(f"{BASE}/oauth/v2/accessToken", {
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    })


def test_consent_page_lists_the_requested_scopes(client, seeded):
    page = client.get(f"{BASE}/oauth/v2/authorization", {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://app.example/cb",
        "scope": "r_marketing_leadgen_automation r_ads",
    })
    html = page.content.decode()
    assert "r_marketing_leadgen_automation" in html and "r_ads" in html
    assert 'value="allow"' in html and 'value="cancel"' in html


def test_cancel_redirects_with_user_cancelled_authorize(client, seeded):
    response = client.post(f"{BASE}/oauth/v2/authorization", {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://app.example/cb?x=1",
        "state": "s1", "scope": "r_ads", "action": "cancel",
    })
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["user_cancelled_authorize"] and query["state"] == ["s1"] and query["x"] == ["1"]


@pytest.mark.parametrize("change", [
    {"scope": "r_ads r_everything"}, {"scope": "r_ads,r_events"}, {"redirect_uri": ""}, {"client_id": "other"},
    {"response_type": "token"},
])
def test_bad_authorization_requests_show_an_error_page(client, seeded, change):
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://app.example/cb",
              "scope": "r_ads", **change}
    response = client.get(f"{BASE}/oauth/v2/authorization", params)
    assert response.status_code == 400
    assert "Location" not in response


def test_auto_approve_redirects_at_once(client, seeded):
    response = client.get(f"{BASE}/oauth/v2/authorization", {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://app.example/cb",
        "scope": "r_ads", "auto_approve": "1",
    })
    assert response.status_code == 302 and "code=" in response["Location"]


def test_code_exchange_gives_tokens_and_codes_are_single_use(client, seeded):
    code = authorize(client)
    body = exchange(client, code).json()
    assert body["expires_in"] == 60 * 86400
    assert body["refresh_token_expires_in"] == 365 * 86400
    assert body["scope"] == "r_marketing_leadgen_automation,r_organization_admin"
    again = exchange(client, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_code_exchange_errors(client, seeded):
    code = authorize(client)
    mismatch = exchange(client, code, redirect="https://evil.example/cb")
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_redirect_uri"
    unknown = exchange(client, "not-a-code")
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_request" and "authorization code not found" in unknown.json()[
        "error_description"]
    assert exchange(client, code, client_secret="wrong").status_code == 401
    assert client.post(f"{BASE}/oauth/v2/accessToken", {"grant_type": "password"}).status_code == 400


def test_expired_code_is_rejected(client, seeded):
    code = authorize(client)
    tokens.AuthorizationCode.objects.filter(code=code).update(created=timezone.now() - timedelta(minutes=31))
    response = exchange(client, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_redirect_uri"


def test_refresh_gives_new_tokens_with_decreasing_refresh_lifetime(client, seeded):
    first = exchange(client, authorize(client)).json()
    ten_days = timedelta(days=10)
    grant = Grant.objects.get(access_tokens__token=first["access_token"])
    Grant.objects.filter(pk=grant.pk).update(
        authorized_at=grant.authorized_at - ten_days, refresh_expires_at=grant.refresh_expires_at - ten_days
    )
    RefreshToken.objects.filter(grant=grant).update(expires_at=grant.refresh_expires_at - ten_days)
    second = refresh(client, first["refresh_token"]).json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 60 * 86400
    assert 354 * 86400 < second["refresh_token_expires_in"] <= 355 * 86400
    third = refresh(client, second["refresh_token"]).json()
    assert third["refresh_token_expires_in"] <= second["refresh_token_expires_in"]


def test_a_refresh_token_works_once(client, seeded):
    first = exchange(client, authorize(client)).json()
    assert refresh(client, first["refresh_token"]).status_code == 200
    spent = refresh(client, first["refresh_token"])
    assert spent.status_code == 400
    assert spent.json() == {"error": "invalid_request", "error_description": INVALID_GRANT}


def test_expired_or_revoked_refresh_tokens_are_400(client, seeded, alex):
    first = exchange(client, authorize(client)).json()
    RefreshToken.objects.filter(token=first["refresh_token"]).update(expires_at=timezone.now())
    assert refresh(client, first["refresh_token"]).json()["error_description"] == INVALID_GRANT
    second = exchange(client, authorize(client)).json()
    switches.settings_update(changes={"revoke": {"member": alex.person_id, "access": False, "refresh": True}})
    response = refresh(client, second["refresh_token"])
    assert response.status_code == 400
    # access tokens were left alone
    assert api(client, "rest/organizationAcls?q=roleAssignee", second["access_token"]).status_code == 200


def test_a_different_scope_set_invalidates_earlier_access_tokens(client, seeded):
    old = exchange(client, authorize(client, scope="r_organization_admin")).json()["access_token"]
    exchange(client, authorize(client, scope="r_organization_admin r_ads"))
    assert api(client, "rest/organizationAcls?q=roleAssignee", old).json()["code"] == "REVOKED_ACCESS_TOKEN"


def test_short_token_lifetimes_switch(client, seeded):
    switches.settings_update(changes={"access_token_lifetime": 60, "refresh_token_lifetime": 120})
    body = exchange(client, authorize(client)).json()
    assert body["expires_in"] == 60 and body["refresh_token_expires_in"] == 120


def introspect(client, token_value, client_id=CLIENT_ID, secret=CLIENT_SECRET):
    return client.post(f"{BASE}/oauth/v2/introspectToken",
                       {"client_id": client_id, "client_secret": secret, "token": token_value})


def test_introspection(client, seeded, token, alex):
    body = introspect(client, token).json()
    assert body["active"] is True and body["status"] == "active" and body["auth_type"] == "3L"
    assert body["client_id"] == CLIENT_ID
    assert "r_marketing_leadgen_automation" in body["scope"].split(",")
    assert body["expires_at"] - body["created_at"] == 60 * 86400
    assert introspect(client, token, secret="bad").status_code == 401
    assert introspect(client, token, client_id="bad").status_code == 400
    assert introspect(client, "unknown").status_code == 400
    switches.access_tokens_expire_all()
    assert introspect(client, token).json()["status"] == "expired"
    switches.tokens_revoke_for_member(member=alex)
    assert introspect(client, token).json()["status"] == "revoked"
    assert introspect(client, seeded.tokens["refresh_token"]).json()["active"] is False


# --- member endpoints, scopes and roles ---------------------------------------------------------


def test_userinfo_needs_openid_and_profile(client, token, alex):
    body = api(client, "v2/userinfo", token).json()
    assert body["sub"] == seed_data.ALEX and body["email"] == alex.email
    limited = token_with(alex, ["openid", "r_ads"])
    assert api(client, "v2/userinfo", limited).status_code == 403
    assert api(client, "v2/me", token).json()["localizedLastName"] == "Admin"


@pytest.mark.parametrize("path, scopes", [
    ("rest/organizationAcls?q=roleAssignee", ["r_ads"]),
    ("rest/adAccounts?q=search", ["r_organization_admin"]),
    (f"rest/events?q=eventsByOrganizer&organizer=urn%3Ali%3Aorganization%3A{ACME}", ["r_ads"]),
    (f"rest/leadForms?q=owner&owner={ACME_OWNER}", ["r_organization_admin"]),
    (leads_url(lead_type="COMPANY"), ["r_events_leadgen_automation"]),
])
def test_missing_scope_is_403_access_denied(client, alex, path, scopes):
    response = api(client, path, token_with(alex, scopes))
    assert response.status_code == 403
    assert response.json()["code"] == "ACCESS_DENIED"


def test_event_leads_are_readable_with_the_legacy_event_scope(client, alex):
    limited = token_with(alex, ["r_events_leadgen_automation"])
    assert api(client, leads_url(), limited).status_code == 200


def test_analyst_role_cannot_read_forms_or_leads(client, token):
    owner = f"(organization:urn%3Ali%3Aorganization%3A{INITECH})"
    assert api(client, f"rest/leadForms?q=owner&owner={owner}", token).status_code == 403
    assert api(client, leads_url(owner=owner), token).status_code == 403
    assert api(client, "rest/leadForms/6083008", token).status_code == 403


def test_lead_gen_forms_manager_can_read_forms(client, token):
    owner = f"(organization:urn%3Ali%3Aorganization%3A{GLOBEX})"
    names = [f["name"] for f in api(client, f"rest/leadForms?q=owner&owner={owner}", token).json()["elements"]]
    assert names == ["Globex newsletter sign-up", "Globex Product Day"]


def test_ad_account_leads_need_access_to_the_account(client, token):
    own = "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A507857085)"
    other = "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A507857088)"
    assert api(client, leads_url(owner=own, lead_type="SPONSORED"), token).status_code == 200
    assert api(client, leads_url(owner=other, lead_type="SPONSORED"), token).status_code == 403


# --- discovery ----------------------------------------------------------------------------------


def test_organization_acls_filter_by_role_and_have_no_total(client, token):
    body = api(client, "rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED", token).json()
    assert [e["organization"] for e in body["elements"]] == [
        f"urn:li:organization:{ACME}", f"urn:li:organization:{ANGSTROM}"
    ]
    assert "total" not in body["paging"]
    everything = api(client, "rest/organizationAcls?q=roleAssignee&state=APPROVED", token).json()["elements"]
    roles = {e["organization"].rsplit(":", 1)[1]: e["role"] for e in everything}
    assert roles == {str(ACME): "ADMINISTRATOR", str(ANGSTROM): "ADMINISTRATOR",
                     str(GLOBEX): "LEAD_GEN_FORMS_MANAGER", str(INITECH): "ANALYST"}


def test_organizations_batch_get_shape(client, token):
    body = api(client, f"rest/organizations?ids=List({ACME},{ANGSTROM},42)", token).json()
    assert body["results"][str(ANGSTROM)]["localizedName"] == "Ångström Labs AB"
    assert body["statuses"] == {str(ACME): 200, str(ANGSTROM): 200, "42": 404}
    assert body["errors"]["42"]["status"] == 404
    assert api(client, f"rest/organizations/{ACME}", token).json()["localizedName"] == "Acme Conferences"


def test_ad_account_search_filters(client, token):
    url = "rest/adAccounts?q=search&search=(status:(values:List(ACTIVE)),test:false)"
    elements = api(client, url, token).json()["elements"]
    assert [(a["id"], a["referenceInfo"]["organization"]["id"]) for a in elements] == [(507857085, ACME)]
    assert len(api(client, "rest/adAccounts?q=search", token).json()["elements"]) == 3


def test_events_with_and_without_forms(client, token):
    url = f"rest/events?q=eventsByOrganizer&organizer=urn%3Ali%3Aorganization%3A{ACME}"
    events = {e["id"]: e for e in api(client, url, token).json()["elements"]}
    assert events[7100001]["leadGenForm"] == "urn:li:leadGenForm:6083001"
    assert events[7100002]["leadGenForm"] == "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:6083002,1)"
    assert "leadGenForm" not in events[7100003]
    assert set(events[7100001]["timeRangeV2"]) == {"startAt", "endsAt"}
    assert events[7100001]["name"]["localized"]["en_US"] == "Acme Summit 2026"


def test_raw_colons_in_a_urn_are_rejected(client, token):
    response = api(client, f"rest/events?q=eventsByOrganizer&organizer=urn:li:organization:{ACME}", token)
    assert response.status_code == 400 and response.json()["code"] == "ILLEGAL_ARGUMENT"


# --- forms ----------------------------------------------------------------------------------------


def test_form_shape_follows_the_versioned_schema(client, token):
    form = api(client, f"rest/leadForms/{SUMMIT_FORM}", token).json()
    assert form["versionId"] == 2 and form["owner"] == {"organization": f"urn:li:organization:{ACME}"}
    assert form["creationLocale"] == {"country": "US", "language": "en"}
    questions = {q["name"]: q for q in form["content"]["questions"]}
    assert questions["email"]["predefinedField"] == "EMAIL"
    assert questions["hopeToLearn"]["questionDetails"]["textQuestionDetails"]["maxResponseLength"] == 500
    assert "predefinedField" not in questions["track"]
    options = questions["track"]["questionDetails"]["multipleChoiceQuestionDetails"]["options"]
    assert options[0] == {"id": 1, "text": {"localized": {"en_US": "Cloud & Edge"}}, "label": "track_1"}
    legal = form["content"]["legalInfo"]
    assert legal["legalInfoId"] == 321001 and legal["consents"][0]["checkRequired"] is True
    assert {"name": "event_code", "value": "SUMMIT26"} in form["hiddenFields"]


def test_an_older_form_version_is_served_by_its_versioned_urn(client, token):
    key = "urn%3Ali%3AversionedLeadGenForm%3A%28urn%3Ali%3AleadGenForm%3A6083001%2C1%29"
    form = api(client, f"rest/leadForms/{key}", token).json()
    track = next(q for q in form["content"]["questions"] if q["name"] == "track")
    assert form["versionId"] == 1
    assert [o["text"]["localized"]["en_US"] for o in track["questionDetails"]["multipleChoiceQuestionDetails"][
        "options"]] == ["Cloud", "Data", "Security"]


def test_forms_cover_every_question_kind(client, token):
    fields = set()
    kinds = set()
    for owner in (ACME, ANGSTROM, GLOBEX):
        url = f"rest/leadForms?q=owner&owner=(organization:urn%3Ali%3Aorganization%3A{owner})&count=50"
        for form in api(client, url, token).json()["elements"]:
            for question in form["content"]["questions"]:
                fields.add(question.get("predefinedField"))
                kinds |= set(question["questionDetails"])
    assert {"FIRST_NAME", "LAST_NAME", "EMAIL", "WORK_EMAIL", "COMPANY_NAME", "JOB_TITLE", "PHONE_NUMBER", "CITY",
            "COUNTRY", None} <= fields
    assert kinds == {"textQuestionDetails", "multipleChoiceQuestionDetails"}


def test_sponsored_forms_are_found_by_ad_account(client, token):
    url = "rest/leadForms?q=owner&owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A507857085)"
    assert [f["id"] for f in api(client, url, token).json()["elements"]] == [SPONSORED_FORM]


# --- lead responses -------------------------------------------------------------------------------


def test_leads_come_in_all_three_answer_shapes(client, token):
    elements, _ = fetch_all(client, token, leads_url(), count=50)
    versioned = [e for e in elements if "answerDetails" in e["formResponse"]["answers"][0]
                 and "questionId" in e["formResponse"]["answers"][0]]
    schema = [e for e in elements if "accepted" in e["formResponse"]["answers"][0]]
    legacy = [e for e in elements if "question" in e["formResponse"]["answers"][0]]
    assert versioned and schema and legacy
    assert len(versioned) + len(schema) + len(legacy) == len(elements)

    v = versioned[0]
    assert "textQuestionAnswer" in v["formResponse"]["answers"][0]["answerDetails"]
    assert v["versionedLeadGenFormUrn"].startswith("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:")
    s = schema[0]
    assert s["formResponse"]["answers"][0]["name"] == "firstName"
    assert "textQuestionAnswer" in s["formResponse"]["answers"][0]["accepted"]
    legacy_lead = legacy[0]
    first = legacy_lead["formResponse"]["answers"][0]
    assert first["question"].startswith("urn:li:leadGenFormQuestion:")
    assert "com.linkedin.leadgenform.TextQuestionAnswer" in first["answerDetails"]
    assert "versionedLeadGenFormUrn" not in legacy_lead
    assert legacy_lead["form"].startswith("urn:li:versionedLeadGenForm:")
    assert legacy_lead["formResponse"]["consentResponses"][0]["consent"].startswith(
        "urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:")
    assert all(e["associatedEntity"]["event"].startswith("urn:li:event:") for e in elements)


def test_multiple_choice_answers_are_option_ids_of_the_answered_version(client, token):
    elements, _ = fetch_all(client, token, leads_url(), count=50)
    summit = [e for e in elements if "6083001," in (e.get("versionedLeadGenFormUrn") or e["form"])]
    versions = {(e.get("versionedLeadGenFormUrn") or e["form"])[-2] for e in summit}
    assert versions == {"1", "2"}
    for lead in summit:
        for answer in lead["formResponse"]["answers"]:
            details = answer.get("answerDetails") or answer.get("accepted")
            choice = details.get("multipleChoiceAnswer") or details.get("com.linkedin.leadgenform.MultipleChoiceAnswer")
            if choice:
                assert all(isinstance(o, int) for o in choice["options"])


def test_unicode_guest_and_test_leads_exist(client, token):
    elements, _ = fetch_all(client, token, leads_url(), count=50)
    assert any("submitter" not in e for e in elements)
    assert all(e["submitter"].startswith("urn:li:person:") for e in elements if "submitter" in e)
    texts = json.dumps(elements, ensure_ascii=False)
    assert any(ch in texts for ch in "ëÅŁżł李ø")


def test_sponsored_leads_carry_campaign_metadata(client, token):
    owner = "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A507857085)"
    elements, _ = fetch_all(client, token, leads_url(owner=owner, lead_type="SPONSORED"), count=50)
    real = [e for e in elements if not e["testLead"]]
    assert real
    for lead in real:
        assert lead["leadMetadata"]["sponsoredLeadMetadata"]["campaign"] == "urn:li:sponsoredCampaign:367378525"
        assert lead["associatedEntity"] == {"sponsoredCreative": "urn:li:sponsoredCreative:100200300"}


def test_short_pages_do_not_mean_the_end(client, token):
    expected = Lead.objects.filter(organization_id=ACME, lead_type="EVENT").count()
    elements, pages = fetch_all(client, token, leads_url(), count=10)
    ids = [e["id"] for e in elements]
    assert len(ids) == len(set(ids)) == expected
    first = pages[0]
    assert len(first["elements"]) < 10 and first["paging"]["total"] > 10
    assert any(link["rel"] == "next" for link in first["paging"]["links"])
    # a client that stops on the first short page loses leads
    assert len(first["elements"]) < expected


def test_without_short_pages_total_is_the_lead_count(client, token):
    switches.settings_update(changes={"short_pages": False})
    expected = Lead.objects.filter(organization_id=ACME, lead_type="EVENT").count()
    body = api(client, f"{leads_url()}&count=10", token).json()
    assert len(body["elements"]) == 10 and body["paging"]["total"] == expected


def test_a_finder_page_costs_a_fixed_number_of_queries_at_any_depth(client, token):
    switches.settings_update(changes={"short_pages": False})
    total = Lead.objects.filter(organization_id=ACME, lead_type="EVENT").count()
    assert total > 20
    counts = []
    for start in (0, total - 10):
        with CaptureQueriesContext(connection) as queries:
            body = api(client, f"{leads_url()}&start={start}&count=10", token).json()
        assert len(body["elements"]) == 10
        counts.append(len(queries))
    # token, fault switches, role, paging switches, count, page, the page's form versions
    assert counts[0] == counts[1] <= 7


def test_a_finder_page_renders_each_lead_as_the_single_lead_answer_does(client, token):
    switches.settings_update(changes={"short_pages": False})
    body = api(client, f"{leads_url()}&count=100", token).json()
    expected = Lead.objects.filter(organization_id=ACME, lead_type="EVENT").select_related("form_version__form")
    assert body["elements"] == [serializers.lead(lead) for lead in expected.order_by("-submitted_at", "id")]
    shapes = {lead.shape for lead in expected}
    assert shapes == {Lead.Shape.VERSIONED, Lead.Shape.SCHEMA, Lead.Shape.LEGACY}


def test_page_size_cap(client, token):
    switches.settings_update(changes={"page_size_cap": 4, "short_pages": False})
    body = api(client, f"{leads_url()}&count=100", token).json()
    assert len(body["elements"]) == 4 and body["paging"]["count"] == 4


def test_time_range_filter(client, token):
    switches.settings_update(changes={"short_pages": False})
    leads = list(Lead.objects.filter(organization_id=ACME, lead_type="EVENT").order_by("submitted_at"))
    start = int(leads[5].submitted_at.timestamp() * 1000)
    end = int(leads[15].submitted_at.timestamp() * 1000)
    body = api(client, leads_url(extra=f"&submittedAtTimeRange=(start:{start},end:{end})&count=100"), token).json()
    assert sorted(e["id"] for e in body["elements"]) == sorted(lead.id for lead in leads[5:15])
    assert all(start <= e["submittedAt"] < end for e in body["elements"])


def test_version_filter_and_double_encoding(client, token):
    switches.settings_update(changes={"short_pages": False})
    urn = "urn%3Ali%3AversionedLeadGenForm%3A%28urn%3Ali%3AleadGenForm%3A6083001%2C1%29"
    body = api(client, leads_url(extra=f"&versionedLeadGenFormUrn={urn}&count=100"), token).json()
    expected = Lead.objects.filter(form_version__form_id=SUMMIT_FORM, form_version__version=1).count()
    assert expected and body["paging"]["total"] == expected
    double = urn.replace("%", "%25")
    response = api(client, leads_url(extra=f"&versionedLeadGenFormUrn={double}"), token)
    assert response.status_code == 400 and response.json()["code"] == "ILLEGAL_ARGUMENT"
    raw_parens = "urn%3Ali%3AversionedLeadGenForm%3A(urn%3Ali%3AleadGenForm%3A6083001%2C1)"
    assert api(client, leads_url(extra=f"&versionedLeadGenFormUrn={raw_parens}"), token).status_code == 400


@pytest.mark.parametrize("owner", [
    "%28organization%3Aurn%3Ali%3Aorganization%3A2414101%29",  # the whole union encoded
    "(organization:urn%253Ali%253Aorganization%253A2414101)",  # encoded twice
    "(organization:urn:li:organization:2414101)",  # not encoded
])
def test_badly_encoded_owner_is_illegal_argument(client, token, owner):
    response = api(client, leads_url(owner=owner), token)
    assert response.status_code == 400 and response.json()["code"] == "ILLEGAL_ARGUMENT"


def test_lead_type_is_required(client, token):
    response = api(client, f"rest/leadFormResponses?q=owner&owner={ACME_OWNER}", token)
    assert response.status_code == 400


def test_test_lead_filter(client, token):
    switches.settings_update(changes={"short_pages": False})
    everything = api(client, leads_url(extra="&count=500"), token).json()["elements"]
    only_test = api(client, leads_url(extra="&limitedToTestLeads=true&count=500"), token).json()["elements"]
    explicit_false = api(client, leads_url(extra="&limitedToTestLeads=false&count=500"), token).json()["elements"]
    assert only_test and all(e["testLead"] for e in only_test)
    assert any(e["testLead"] for e in everything) and len(everything) > len(only_test)
    assert explicit_false == everything


def test_associated_entity_filter(client, token):
    switches.settings_update(changes={"short_pages": False})
    extra = "&associatedEntity=urn%3Ali%3Aevent%3A7100002&count=500"
    elements = api(client, leads_url(extra=extra), token).json()["elements"]
    assert elements and {e["associatedEntity"]["event"] for e in elements} == {"urn:li:event:7100002"}


def test_single_lead(client, token):
    lead = Lead.objects.filter(organization_id=ACME).first()
    body = api(client, f"rest/leadFormResponses/{lead.id}", token).json()
    assert body["id"] == lead.id
    assert api(client, "rest/leadFormResponses/nope", token).status_code == 404
    initech = Lead.objects.filter(organization_id=INITECH).first()
    assert api(client, f"rest/leadFormResponses/{initech.id}", token).status_code == 403


# --- notifications and webhooks ---------------------------------------------------------------------


class _Capture(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def do_GET(self):  # noqa: N802
        """Answer LinkedIn's challenge the way the product must."""
        challenge = parse_qs(urlsplit(self.path).query)["challengeCode"][0]
        answer = hmac.new(CLIENT_SECRET.encode(), challenge.encode(), hashlib.sha256).hexdigest()
        body = json.dumps({"challengeCode": challenge, "challengeResponse": answer}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    _Capture.received = []
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/linkedin/webhook/", _Capture.received
    server.shutdown()
    server.server_close()


def subscribe(client, token, webhook, owner=None, lead_type="EVENT", **extra):
    body = {"webhook": webhook, "owner": owner or {"organization": f"urn:li:organization:{ACME}"},
            "leadType": lead_type, **extra}
    return api(client, "rest/leadNotifications", token, method="post", data=json.dumps(body),
               content_type="application/json")


def test_lead_notifications_crud(client, token):
    created = subscribe(client, token, "https://app.example/hook")
    assert created.status_code == 201
    sub_id = created["x-restli-id"]
    criteria = (f"rest/leadNotifications?q=criteria&owner=(value:(organization:urn%3Ali%3Aorganization%3A{ACME}))"
                "&leadType=(leadType:EVENT)")
    found = api(client, criteria, token).json()["elements"]
    assert [str(s["id"]) for s in found] == [sub_id]
    assert api(client, f"rest/leadNotifications/{sub_id}", token).json()["webhook"] == "https://app.example/hook"
    assert subscribe(client, token, "https://app.example/hook")["x-restli-id"] == sub_id  # no duplicate
    assert api(client, f"rest/leadNotifications/{sub_id}", token, method="delete").status_code == 204
    assert api(client, f"rest/leadNotifications/{sub_id}", token).status_code == 404
    assert not LeadNotification.objects.exists()
    initech = {"organization": f"urn:li:organization:{INITECH}"}
    assert subscribe(client, token, "https://app.example/hook", owner=initech).status_code == 403


def test_new_lead_delivers_a_signed_webhook(client, token, webhook_server):
    url, received = webhook_server
    subscribe(client, token, url)
    versioned = "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:6083001,2)"
    subscribe(client, token, url, versionedForm=versioned)  # same URL: delivered once
    lead = lead_submit(LeadForm.objects.get(id=SUMMIT_FORM))
    assert len(received) == 1
    headers, body = received[0]
    expected = hmac.new(CLIENT_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-LI-Signature"] == expected
    payload = json.loads(body)
    assert payload == {
        "type": "LEAD_ACTION", "leadGenFormResponse": f"urn:li:leadGenFormResponse:{lead.id}",
        "leadGenForm": versioned, "owner": {"organization": f"urn:li:organization:{ACME}"},
        "associatedEntity": {"event": "urn:li:event:7100001"}, "leadType": "EVENT", "leadAction": "CREATED",
        "occurredAt": payload["occurredAt"],
    }
    delivery = WebhookDelivery.objects.get()
    assert delivery.ok and delivery.signature == expected and delivery.action == "CREATED"

    lead_delete(lead)
    assert json.loads(received[1][1])["leadAction"] == "DELETED"
    assert not Lead.objects.filter(id=lead.id).exists()


def test_leads_of_other_owners_or_types_do_not_notify(client, token, webhook_server):
    url, received = webhook_server
    subscribe(client, token, url, lead_type="COMPANY")
    lead_submit(LeadForm.objects.get(id=SUMMIT_FORM))
    assert received == [] and not WebhookDelivery.objects.exists()


def test_webhook_validation_switch(client, token, webhook_server):
    url, _ = webhook_server
    switches.settings_update(changes={"validate_webhooks": True})
    assert subscribe(client, token, url).status_code == 201
    refused = subscribe(client, token, "http://127.0.0.1:9/nothing-listens-here")
    assert refused.status_code == 400 and "validation failed" in refused.json()["message"]


def test_failed_delivery_is_recorded(client, token):
    subscribe(client, token, "http://127.0.0.1:9/unreachable")
    lead_submit(LeadForm.objects.get(id=SUMMIT_FORM))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status_code is None and delivery.error and not delivery.ok


# --- fault switches ------------------------------------------------------------------------------


def test_throttle_answers_429_to_the_next_n_calls(client, token):
    switches.settings_update(changes={"throttle": 2, "retry_after": 7})
    for _ in range(2):
        response = api(client, "rest/organizationAcls?q=roleAssignee", token)
        assert response.status_code == 429 and response["Retry-After"] == "7"
    assert api(client, "rest/organizationAcls?q=roleAssignee", token).status_code == 200


def test_server_errors_switch(client, token):
    client.post(f"{BASE}/_faults", {"server_errors": 1, "server_error_status": 503}, content_type="application/json")
    assert api(client, "rest/organizationAcls?q=roleAssignee", token).status_code == 503
    assert api(client, "rest/organizationAcls?q=roleAssignee", token).status_code == 200


@pytest.mark.parametrize("kind", ["truncated", "html"])
def test_bad_answers_switch_sends_a_200_whose_body_is_not_json(client, token, kind):
    response = client.post(f"{BASE}/_faults", {"bad_answers": 1, "bad_answer_kind": kind},
                           content_type="application/json")
    assert response.json()["settings"]["bad_answers_remaining"] == 1
    answer = api(client, "rest/organizationAcls?q=roleAssignee", token)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        json.loads(answer.content)
    assert api(client, "rest/organizationAcls?q=roleAssignee", token).json()["elements"], "one ticket, one call"
    refused = client.post(f"{BASE}/_faults", {"bad_answer_kind": "xml"}, content_type="application/json")
    assert refused.status_code == 400


def test_bad_answers_switch_is_on_the_admin_settings_page(admin_client, seeded):
    page = admin_client.get(reverse("admin:sandbox_linkedin_sandboxsettings_change", args=[SandboxSettings.load().pk]))
    assert page.status_code == 200
    assert b'name="bad_answers_remaining"' in page.content and b'name="bad_answer_kind"' in page.content


def test_faults_endpoint(client, token, alex):
    state = client.get(f"{BASE}/_faults").json()["settings"]
    assert state["short_pages"] is True and state["throttle_remaining"] == 0
    response = client.post(f"{BASE}/_faults", {"revoke": {"member": alex.person_id}}, content_type="application/json")
    assert response.status_code == 200
    assert api(client, "rest/organizationAcls?q=roleAssignee", token).json()["code"] == "REVOKED_ACCESS_TOKEN"
    assert client.post(f"{BASE}/_faults", {"bogus": 1}, content_type="application/json").status_code == 400


def test_fault_command(seeded, capsys):
    call_command("sandbox_linkedin_fault", "--throttle", "3", "--short-pages", "off", "--bad-answers", "2",
                 "--bad-answer", "html", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["settings"]["throttle_remaining"] == 3 and result["settings"]["short_pages"] is False
    assert result["settings"]["bad_answers_remaining"] == 2 and result["settings"]["bad_answer_kind"] == "html"
    call_command("sandbox_linkedin_fault", "--expire-access-tokens")
    assert not AccessToken.objects.filter(expires_at__gt=timezone.now()).exists()
    capsys.readouterr()
    call_command("sandbox_linkedin_fault", "--reset", "--json")
    assert json.loads(capsys.readouterr().out)["settings"] == switches.DEFAULTS


# --- seed ------------------------------------------------------------------------------------------


def test_seed_is_idempotent_and_reuses_tokens(seeded):
    counts = {m.__name__: m.objects.count() for m in (Lead, LeadForm, Event, Member, Grant)}
    again = seed(leads=80, days=120, seed=7)
    assert {m.__name__: m.objects.count() for m in (Lead, LeadForm, Event, Member, Grant)} == counts
    assert again.leads_created == 0
    assert again.tokens["access_token"] == seeded.tokens["access_token"]


def test_seed_reset_rebuilds(seeded):
    again = seed(leads=20, days=30, seed=1, reset_first=True)
    assert Lead.objects.count() == 20 and again.leads_created == 20
    assert again.tokens["access_token"] != seeded.tokens["access_token"]


def _emails_of(lead):
    version = lead.form_version
    fields = {q["questionId"]: q.get("predefinedField") for q in version.questions}
    return [a["text"] for a in lead.answers if fields.get(a["questionId"]) in ("EMAIL", "WORK_EMAIL")]


def test_seed_reuses_people_by_default():
    seed(leads=120, days=30, seed=3)
    emails = [e for lead in Lead.objects.select_related("form_version") for e in _emails_of(lead)]
    assert len(set(emails)) < len(emails)


def test_unique_people_gives_every_lead_emails_no_other_lead_has():
    call_command("sandbox_seed", "--leads", "120", "--days", "30", "--seed", "3", "--unique-people", "--json")
    leads = list(Lead.objects.select_related("form_version"))
    emails = [_emails_of(lead) for lead in leads]
    assert len(leads) == 120 and all(emails)  # every lead answered an e-mail question
    flat = [e.lower() for lead_emails in emails for e in lead_emails]
    assert len(set(flat)) == len(flat)
    submitters = [lead.submitter for lead in leads if lead.submitter]
    assert len(set(submitters)) == len(submitters)


def test_unique_people_keeps_the_default_ids_forms_and_times():
    seed(leads=40, days=30, seed=3)

    def facts():
        return {
            lead.id: (str(lead.form_version), lead.submitted_at, lead.test_lead, lead.shape)
            for lead in Lead.objects.select_related("form_version__form")
        }

    default = facts()
    Lead.objects.all().delete()  # the seed anchor stays, so times are comparable
    seed(leads=40, days=30, seed=3, unique_people=True)
    assert facts() == default


def test_seed_command_writes_a_token_file(tmp_path, capsys):
    path = tmp_path / "token.json"
    call_command("sandbox_seed", "--leads", "10", "--json", "--token-file", str(path))
    summary = json.loads(capsys.readouterr().out)
    saved = json.loads(path.read_text())
    assert saved["access_token"] == summary["tokens"]["access_token"]
    assert set(saved) == {"access_token", "refresh_token", "expires_in", "refresh_expires_in"}
    assert summary["leads"]["total"] == 10
    call_command("sandbox_seed", "--leads", "10", "--json", "--scopes", "r_marketing_leadgen_automation,r_ads")
    assert json.loads(capsys.readouterr().out)["tokens"]["scope"] == "r_marketing_leadgen_automation,r_ads"


def test_seed_scale_adds_owners_and_forms_for_alex_round_robin_idempotently(capsys):
    """The idle-poll benchmark's scale (sandbox_seed --owners --forms --form-leads): pages and ad
    accounts alternating, forms spread over them, leads at least a day old; a second run adds nothing."""
    argv = ["sandbox_seed", "--leads", "0", "--days", "30", "--owners", "3", "--forms", "7", "--form-leads", "2",
            "--json"]
    call_command(*argv)
    summary = json.loads(capsys.readouterr().out)
    forms = LeadForm.objects.filter(id__gte=seed_data.SCALE_FORM_ID).order_by("id")
    assert [(f.organization_id, f.ad_account_id) for f in forms[:3]] == [
        (seed_data.SCALE_ORGANIZATION_ID, None), (None, seed_data.SCALE_AD_ACCOUNT_ID + 1),
        (seed_data.SCALE_ORGANIZATION_ID + 2, None)]
    assert forms.count() == 7 and summary["leads"]["created"] == 14
    assert not Lead.objects.filter(submitted_at__gt=timezone.now() - timedelta(days=1)).exists()
    assert {o["id"]: o["alex_roles"] for o in summary["organizations"]}[seed_data.SCALE_ORGANIZATION_ID] == [
        "ADMINISTRATOR"]
    call_command(*argv)
    assert json.loads(capsys.readouterr().out)["leads"]["created"] == 0
    assert Lead.objects.count() == 14

# --- pages, control endpoints and the admin ----------------------------------------------------------


def test_register_for_an_event_page(client, seeded):
    url = f"{BASE}/events/7100002/register"
    page = client.get(url)
    assert page.status_code == 200 and "Save your seat" in page.content.decode()
    form = LeadForm.objects.get(id=6083002).latest_version
    data = {f"q{q['questionId']}": "Zoë" for q in form.questions}
    role = next(q for q in form.questions if q["name"] == "role")
    data[f"q{role['questionId']}"] = "2"
    data["c1"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302
    lead = Lead.objects.get(id=parse_qs(urlsplit(response["Location"]).query)["registered"][0])
    assert lead.event_id == 7100002 and {"questionId": role["questionId"], "options": [2]} in lead.answers
    assert "registered" in client.get(response["Location"]).content.decode()
    assert "no lead gen form" in client.get(f"{BASE}/events/7100003/register").content.decode()


def test_index_page_lists_events_and_forms(client, seeded):
    html = client.get(f"{BASE}/").content.decode()
    assert "Acme Summit 2026" in html and "no lead gen form" in html and "Spring Launch" in html


def test_leads_control_endpoint(client, seeded):
    response = client.post(f"{BASE}/_leads", {"event": 7100001, "count": 2, "test": True},
                           content_type="application/json")
    created = response.json()["created"]
    assert response.status_code == 201 and len(created) == 2 and all(c["testLead"] for c in created)
    assert client.delete(f"{BASE}/_leads/{created[0]['id']}").status_code == 200


def test_admin_pages_and_actions(admin_client, seeded):
    for model in ("member", "organization", "organizationrole", "adaccount", "adaccountuser", "campaign", "leadform",
                  "leadformversion", "event", "lead", "authorizationcode", "grant", "accesstoken", "refreshtoken",
                  "leadnotification", "webhookdelivery", "sandboxsettings"):
        assert admin_client.get(reverse(f"admin:sandbox_linkedin_{model}_changelist")).status_code == 200, model
    lead = Lead.objects.first()
    assert admin_client.get(reverse("admin:sandbox_linkedin_lead_change", args=[lead.pk])).status_code == 200
    before = Lead.objects.filter(event_id=7100001).count()
    admin_client.post(reverse("admin:sandbox_linkedin_event_changelist"),
                      {"action": "register_lead", "_selected_action": [7100001]})
    assert Lead.objects.filter(event_id=7100001).count() == before + 1
    admin_client.post(reverse("admin:sandbox_linkedin_leadform_changelist"),
                      {"action": "generate_test_lead", "_selected_action": [SPONSORED_FORM]})
    assert Lead.objects.filter(form_version__form_id=SPONSORED_FORM, test_lead=True, campaign__isnull=True).exists()


def test_events_without_forms_cannot_be_registered_for(seeded):
    from sandbox.linkedin.services import LeadRejected, lead_generate_for_event

    with pytest.raises(LeadRejected):
        lead_generate_for_event(Event.objects.get(id=7100003))


# --- over real HTTP -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_oauth_round_trip_over_http(live_server, seeded):
    base = f"{live_server.url}{BASE}"
    redirect_uri = "http://127.0.0.1:1/linkedin/callback/"
    response = requests.get(f"{base}/oauth/v2/authorization", params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect_uri, "state": "st",
        "scope": "r_marketing_leadgen_automation r_organization_admin openid profile", "auto_approve": "1",
    }, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    code = parse_qs(location.query)["code"][0]
    issued = requests.post(f"{base}/oauth/v2/accessToken", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    }, timeout=10).json()
    headers = {"Authorization": f"Bearer {issued['access_token']}", "LinkedIn-Version": "202601",
               "X-Restli-Protocol-Version": "2.0.0"}
    assert requests.get(f"{base}/v2/userinfo", headers=headers, timeout=10).json()["given_name"] == "Alex"
    acls = requests.get(f"{base}/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED",
                        headers=headers, timeout=10).json()
    assert len(acls["elements"]) == 2
    refreshed = requests.post(f"{base}/oauth/v2/accessToken", data={
        "grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    }, timeout=10)
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != issued["access_token"]
