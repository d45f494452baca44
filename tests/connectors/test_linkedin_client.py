"""LinkedInClient and LinkedInOAuth against `responses`, with payloads shaped like LinkedIn's documented examples."""

import json
import subprocess
import sys
import types
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from connectors.linkedin.responses import normalize_response
from connectors.exceptions import (
    BadPayload,
    BadRequest,
    Forbidden,
    HostError,
    NotFound,
    OAuthError,
    RateLimited,
    ServerError,
    Unauthorized,
)
from connectors.http import RetryPolicy
from connectors.linkedin.client import LinkedInClient
from connectors.linkedin.oauth import LinkedInOAuth, TokenInfo, TokenSet

API = "https://api.linkedin.com"
OAUTH = "https://www.linkedin.com/oauth/v2"
TOKEN = "AQV8-old-access-token"
NEW_TOKEN = "AQV8-new-access-token"
ORG = "urn:li:organization:5509810"
ACCOUNT = "urn:li:sponsoredAccount:507857085"
VERSIONED_FORM = "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,1)"
RESPONSES_URL = f"{API}/rest/leadFormResponses"

EXPIRED = {
    "status": 401,
    "serviceErrorCode": 65602,
    "code": "EXPIRED_ACCESS_TOKEN",
    "message": "The token used in the request has expired",
}
REVOKED = {
    "status": 401,
    "serviceErrorCode": 65601,
    "code": "REVOKED_ACCESS_TOKEN",
    "message": "The token used in the request has been revoked by the user",
}

# One lead in each of the three answer shapes the reference page lists; the client passes them on untouched.
SEED_003_LEAD = {
    "id": "aaaabbbb-0000-cccc-1111-dddd2222eeee-5",
    "leadType": "SPONSORED",
    "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
    "submitter": "urn:li:person:MpGcnvaU_p",
    "submittedAt": 1686182358881,
    "testLead": False,
    "leadMetadata": {"sponsoredLeadMetadata": {"campaign": "urn:li:sponsoredCampaign:367378525"}},
    "formResponse": {
        "answers": [{"questionId": 1, "name": "firstName", "accepted": {"textQuestionAnswer": {"answer": "John"}}}],
        "consentResponses": [{"consentId": 1, "accepted": True}],
    },
}
POSTMAN_LEAD = {
    "id": "19b5348a-f045-48bd-a1f5-990913b41b94-5",
    "leadType": "EVENT",
    "owner": {"organization": ORG},
    "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:818,1)",
    "associatedEntity": {"event": "urn:li:event:789"},
    "submittedAt": 1700000000001,
    "testLead": False,
    "formResponse": {
        "answers": [
            {"questionId": 307234246, "answerDetails": {"textQuestionAnswer": {"answer": "x@y.com"}}},
            {"questionId": 707, "answerDetails": {"multipleChoiceAnswer": {"options": [0, 2]}}},
        ],
        "consentResponses": [{"consentId": 1, "accepted": True}],
    },
}
SEED_000_LEAD = {
    "owner": {"organization": "urn:li:organization:5521643"},
    "submitter": "urn:li:person:eCO_JFeEQ3",
    "form": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:513,23)",
    "leadType": "EVENT",
    "id": "7c8da715-1778-4775-b591-74dd2637a253-5",
    "submittedAt": 1598481566354,
    "formResponse": {
        "consentResponses": [
            {"consent": "urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:321,4)", "accepted": True}
        ],
        "answers": [
            {
                "question": "urn:li:leadGenFormQuestion:1",
                "answerDetails": {
                    "com.linkedin.leadgenform.TextQuestionAnswer": {"answer": "Hello World-testing purpose"}
                },
            }
        ],
    },
    "testLead": False,
    "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:100"},
}


def leads(n, prefix="lead"):
    return [dict(POSTMAN_LEAD, id=f"{prefix}-{i}") for i in range(n)]


def page(elements, *, start=0, count=10, total=None):
    paging = {"start": start, "count": count, "links": []}
    if total is not None:
        paging["total"] = total
    return {"elements": elements, "paging": paging}


def acl(org_id):
    return {
        "roleAssignee": "urn:li:person:abc",
        "state": "APPROVED",
        "role": "ADMINISTRATOR",
        "organization": f"urn:li:organization:{org_id}",
        "created": {"actor": "urn:li:person:abc", "time": 1}, "lastModified": {"actor": "urn:li:person:abc", "time": 1},
    }


def acl_page(ids, start):
    return {"elements": [acl(i) for i in ids], "paging": {"start": start, "count": 10}}


def query_of(call):
    return call.request.url.split("?", 1)[1]


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def retry(sleeps):
    return RetryPolicy(max_attempts=3, base_delay=1.0, sleep=sleeps.append)


@pytest.fixture
def client(retry):
    return LinkedInClient(API, access_token=TOKEN, retry=retry, page_size=10)


@pytest.fixture
def mock():
    with responses.RequestsMock() as rsps:
        yield rsps


# Query strings and headers


def test_lead_form_responses_query_is_exact_and_never_double_encoded(client, mock):
    mock.get(RESPONSES_URL, json=page([SEED_003_LEAD, POSTMAN_LEAD, SEED_000_LEAD], total=3))

    pages = list(
        client.lead_form_responses(
            ORG,
            "EVENT",
            start_ms=1700000000000,
            end_ms=1700086400000,
            versioned_form_urn=VERSIONED_FORM,
            associated_entity="urn:li:event:789",
            limited_to_test_leads=False,
        )
    )

    assert pages == [[SEED_003_LEAD, POSTMAN_LEAD, SEED_000_LEAD]]
    assert query_of(mock.calls[0]) == (
        "q=owner&owner=(organization:urn%3Ali%3Aorganization%3A5509810)&leadType=(leadType:EVENT)"
        "&submittedAtTimeRange=(start:1700000000000,end:1700086400000)"
        "&versionedLeadGenFormUrn=urn%3Ali%3AversionedLeadGenForm%3A%28urn%3Ali%3AleadGenForm%3A987%2C1%29"
        "&associatedEntity=urn%3Ali%3Aevent%3A789&limitedToTestLeads=false&count=10&start=0"
    )


def test_a_lead_the_database_could_not_keep_does_not_refuse_its_page(client, mock):
    """Each lead is checked when it is read (normalize_response), so the page comes through and
    the pull skips that lead alone; other answers are still refused whole."""
    hostile = {**SEED_003_LEAD, "id": "nul", "formResponse": {"answers": [{"questionId": 1, "answerDetails": {
        "textQuestionAnswer": {"answer": "a\u0000b"}}}]}}
    mock.get(RESPONSES_URL, json=page([SEED_003_LEAD, hostile], total=2))

    [elements] = list(client.lead_form_responses(ORG, "EVENT"))

    assert [e["id"] for e in elements] == [SEED_003_LEAD["id"], "nul"]
    with pytest.raises(BadPayload, match="NUL"):
        normalize_response(elements[1], lambda form_id, version: None)


def test_lead_form_responses_leave_out_filters_not_given(client, mock):
    mock.get(RESPONSES_URL, json=page([SEED_003_LEAD], total=1))

    list(client.lead_form_responses(ACCOUNT, "SPONSORED"))

    assert query_of(mock.calls[0]) == (
        "q=owner&owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A507857085)"
        "&leadType=(leadType:SPONSORED)&count=10&start=0"
    )


def test_every_call_sends_token_version_and_restli_headers(retry, mock):
    client = LinkedInClient(API, access_token=TOKEN, version="202511", retry=retry)
    mock.get(f"{API}/v2/userinfo", json={"sub": "782bbtaQ", "name": "John Doe", "email": "doe@example.com"})

    assert client.userinfo()["sub"] == "782bbtaQ"

    headers = mock.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["LinkedIn-Version"] == "202511"
    assert headers["X-Restli-Protocol-Version"] == "2.0.0"


def test_me_reads_v2_me(client, mock):
    mock.get(f"{API}/v2/me", json={"id": "yrZCpj2Z12", "localizedFirstName": "John"})
    assert client.me() == {"id": "yrZCpj2Z12", "localizedFirstName": "John"}


def test_organizations_batch_get_accepts_ids_and_urns(client, mock):
    mock.get(
        f"{API}/rest/organizations",
        json={
            "results": {"123": {"id": 123, "localizedName": "Acme"}, "456": {"id": 456, "localizedName": "Beta"}},
            "statuses": {"123": 200, "456": 200},
            "errors": {},
        },
    )

    names = client.organizations([123, "urn:li:organization:456", "123"])

    assert query_of(mock.calls[0]) == "ids=List(123,456)"
    assert names == {"123": {"id": 123, "localizedName": "Acme"}, "456": {"id": 456, "localizedName": "Beta"}}


def test_organizations_of_nothing_asks_nothing(client, mock):
    assert client.organizations([]) == {}


def test_ad_accounts_search_query_and_filters(client, mock):
    account = {"id": 507857085, "name": "My Company Ads", "test": False, "status": "ACTIVE",
               "referenceInfo": {"organization": {"id": 5509810, "localizedName": "Acme"}}}
    mock.get(f"{API}/rest/adAccounts", json=page([account], total=1))
    mock.get(f"{API}/rest/adAccounts", json=page([account], total=1))

    assert client.ad_accounts() == [account]
    client.ad_accounts(status=None, test=None)

    assert query_of(mock.calls[0]) == "q=search&search=(status:(values:List(ACTIVE)),test:false)&count=10&start=0"
    assert query_of(mock.calls[1]) == "q=search&count=10&start=0"


def test_cursor_paging_follows_next_page_token_until_it_is_gone(client, mock):
    mock.get(f"{API}/rest/adAccounts", json={"metadata": {"nextPageToken": "DgGerr1i_Vq"}, "elements": [{"id": 1}]})
    mock.get(f"{API}/rest/adAccounts", json={"metadata": {}, "elements": [{"id": 2}]})

    assert client.ad_accounts(status=["ACTIVE", "DRAFT"], test=None) == [{"id": 1}, {"id": 2}]

    assert query_of(mock.calls[1]) == (
        "q=search&search=(status:(values:List(ACTIVE,DRAFT)))&count=10&pageToken=DgGerr1i_Vq"
    )


def test_events_by_organizer_send_a_fully_encoded_urn(client, mock):
    event = {"id": "7012345", "name": {"localized": {"en_US": "Launch"}}, "organizer": ORG,
             "leadGenForm": "urn:li:leadGenForm:818"}
    mock.get(f"{API}/rest/events", json=page([event], total=1))

    assert client.events(5509810) == [event]

    assert query_of(mock.calls[0]) == "q=eventsByOrganizer&organizer=urn%3Ali%3Aorganization%3A5509810&count=10&start=0"


def test_lead_forms_by_owner_and_one_form_by_id(client, mock):
    form = {"id": 6083, "name": "Contact Us Form", "state": "PUBLISHED", "owner": {"sponsoredAccount": ACCOUNT},
            "versionId": 1, "content": {"questions": [], "legalInfo": {"legalInfoId": 1, "consents": []}}}
    mock.get(f"{API}/rest/leadForms", json=page([form], total=1))
    mock.get(f"{API}/rest/leadForms/6083", json=form)

    assert client.lead_forms(ACCOUNT) == [form]
    assert client.lead_form("urn:li:leadGenForm:6083") == form

    assert query_of(mock.calls[0]) == (
        "q=owner&owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A507857085)&count=10&start=0"
    )


def test_path_keys_are_fully_encoded(client, mock):
    mock.get(f"{API}/rest/leadFormResponses/a%3Ab%2C%28c%29", json=SEED_003_LEAD)

    assert client.lead_form_response("a:b,(c)") == SEED_003_LEAD

    assert mock.calls[0].request.url == f"{API}/rest/leadFormResponses/a%3Ab%2C%28c%29"


def test_an_owner_that_is_not_an_organization_or_ad_account_is_refused_before_any_call(client, mock):
    with pytest.raises(ValueError):
        client.lead_form_responses("urn:li:person:abc", "EVENT")
    with pytest.raises(ValueError):
        client.lead_forms("5509810")


# Pagination


def test_short_pages_do_not_stop_pagination_while_total_says_more(client, mock):
    mock.get(RESPONSES_URL, json=page(leads(7, "a"), start=0, total=25))
    mock.get(RESPONSES_URL, json=page(leads(10, "b"), start=10, total=25))
    mock.get(RESPONSES_URL, json=page(leads(5, "c"), start=20, total=25))

    pages = list(client.lead_form_responses(ORG, "EVENT"))

    assert [len(p) for p in pages] == [7, 10, 5]
    assert [query_of(c).rsplit("&", 1)[1] for c in mock.calls] == ["start=0", "start=10", "start=20"]


def test_an_empty_page_ends_pagination_even_below_total(client, mock):
    mock.get(RESPONSES_URL, json=page(leads(10), start=0, total=100))
    mock.get(RESPONSES_URL, json=page([], start=10, total=100))

    assert [len(p) for p in client.lead_form_responses(ORG, "EVENT")] == [10]
    assert len(mock.calls) == 2


def test_responses_are_fetched_one_page_at_a_time(client, mock):
    mock.get(RESPONSES_URL, json=page(leads(10, "a"), start=0, total=20))
    mock.get(RESPONSES_URL, json=page(leads(10, "b"), start=10, total=20))

    pages = client.lead_form_responses(ORG, "EVENT")
    assert len(mock.calls) == 0
    first = next(pages)
    assert len(mock.calls) == 1 and first[0]["id"] == "a-0"
    assert next(pages)[0]["id"] == "b-0"
    assert next(pages, None) is None
    assert len(mock.calls) == 2


def test_without_total_a_short_page_is_the_last_one(client, mock):
    mock.get(f"{API}/rest/organizationAcls", json=acl_page(range(10), start=0))
    mock.get(f"{API}/rest/organizationAcls", json=acl_page(range(10, 13), start=10))

    acls = client.organization_acls(role="ADMINISTRATOR")

    assert len(acls) == 13
    assert query_of(mock.calls[0]) == "q=roleAssignee&state=APPROVED&role=ADMINISTRATOR&count=10&start=0"
    assert query_of(mock.calls[1]).endswith("&start=10")


def test_without_total_an_empty_page_is_the_last_one(client, mock):
    mock.get(f"{API}/rest/organizationAcls", json=acl_page(range(10), start=0))
    mock.get(f"{API}/rest/organizationAcls", json=acl_page([], start=10))

    assert len(client.organization_acls()) == 10
    assert query_of(mock.calls[0]) == "q=roleAssignee&state=APPROVED&count=10&start=0"


def test_a_server_that_ignores_start_is_a_bad_payload_not_an_endless_loop(client, mock):
    mock.get(RESPONSES_URL, json=page(leads(10), total=1000))

    pages = client.lead_form_responses(ORG, "EVENT")
    next(pages)
    with pytest.raises(BadPayload, match="same page"):
        next(pages)


def test_a_page_without_elements_is_a_bad_payload(client, mock):
    mock.get(RESPONSES_URL, json={"paging": {"start": 0, "count": 10}})

    with pytest.raises(BadPayload):
        list(client.lead_form_responses(ORG, "EVENT"))


# Token refresh


def test_expired_token_is_refreshed_and_the_request_retried_once_with_the_new_one(retry, mock):
    asked = []

    def refresh(failed):
        asked.append(failed)
        return NEW_TOKEN

    client = LinkedInClient(API, access_token=TOKEN, refresh=refresh, retry=retry, page_size=10)
    mock.get(RESPONSES_URL, status=401, json=EXPIRED)
    mock.get(RESPONSES_URL, json=page([SEED_003_LEAD], total=1))

    assert list(client.lead_form_responses(ACCOUNT, "SPONSORED")) == [[SEED_003_LEAD]]

    assert asked == [TOKEN]
    assert client.access_token == NEW_TOKEN
    assert [c.request.headers["Authorization"] for c in mock.calls] == [f"Bearer {TOKEN}", f"Bearer {NEW_TOKEN}"]


def test_a_second_401_after_refresh_raises_unauthorized(retry, mock):
    asked = []
    client = LinkedInClient(API, access_token=TOKEN, refresh=lambda t: asked.append(t) or NEW_TOKEN, retry=retry)
    mock.get(f"{API}/v2/me", status=401, json=EXPIRED)
    mock.get(f"{API}/v2/me", status=401, json=REVOKED)

    with pytest.raises(Unauthorized) as caught:
        client.me()

    assert caught.value.reason == "revoked"
    assert caught.value.service_error_code == 65601
    assert asked == [TOKEN]
    assert len(mock.calls) == 2


def test_no_new_token_from_refresh_raises_the_original_401(retry, mock):
    client = LinkedInClient(API, access_token=TOKEN, refresh=lambda t: None, retry=retry)
    mock.get(f"{API}/v2/me", status=401, json=EXPIRED)

    with pytest.raises(Unauthorized) as caught:
        client.me()

    assert caught.value.reason == "expired"
    assert caught.value.code == "EXPIRED_ACCESS_TOKEN"
    assert len(mock.calls) == 1


@pytest.mark.parametrize(
    "body, reason",
    [
        (EXPIRED, "expired"),
        (REVOKED, "revoked"),
        ({"status": 401, "serviceErrorCode": 65600, "message": "Invalid access token"}, "invalid"),
        ({"status": 401, "message": "Empty oauth2_access_token"}, "invalid"),
    ],
)
def test_401_reason_tells_expired_revoked_and_invalid_apart(client, mock, body, reason):
    mock.get(f"{API}/v2/me", status=401, json=body)

    with pytest.raises(Unauthorized) as caught:
        client.me()

    assert caught.value.reason == reason
    assert caught.value.status == 401


# Errors and retries


def test_429_is_retried_after_the_retry_after_seconds(client, mock, sleeps):
    mock.get(f"{API}/v2/me", status=429, headers={"Retry-After": "7"},
             json={"status": 429, "message": "Resource level throttle limit for calls to this resource is reached"})
    mock.get(f"{API}/v2/me", json={"id": "yrZCpj2Z12"})

    assert client.me() == {"id": "yrZCpj2Z12"}
    assert sleeps == [7.0]


def test_429_that_never_ends_raises_rate_limited_with_retry_after(client, mock, sleeps):
    mock.get(f"{API}/v2/me", status=429, headers={"Retry-After": "3"}, json={"status": 429, "message": "throttled"})

    with pytest.raises(RateLimited) as caught:
        client.me()

    assert caught.value.retry_after == 3.0
    assert len(mock.calls) == 3 and sleeps == [3.0, 3.0]


def test_500_is_retried_then_raised_as_server_error(client, mock, sleeps):
    mock.get(f"{API}/v2/me", status=500, json={"status": 500, "message": "Internal Server Error"})

    with pytest.raises(ServerError) as caught:
        client.me()

    assert caught.value.status == 500
    assert len(mock.calls) == 3 and len(sleeps) == 2


def test_connection_failure_is_retried_then_host_error(client, mock):
    mock.get(f"{API}/v2/me", body=requests.ConnectionError("refused"))

    with pytest.raises(HostError):
        client.me()

    assert len(mock.calls) == 3


@pytest.mark.parametrize("error, says", [
    (requests.ConnectionError("refused"), "LinkedIn GET /v2/me: could not connect"),
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
     "LinkedIn GET /v2/me: the connection was dropped before the answer came"),
    (requests.exceptions.ChunkedEncodingError("IncompleteRead"),
     "LinkedIn GET /v2/me: the connection broke off in the middle of the answer"),
    (requests.ReadTimeout("read timed out"), "LinkedIn GET /v2/me timed out"),
], ids=["refused", "reset", "cut-off", "timeout"])
def test_a_transport_failure_says_which_call_failed_and_how(client, mock, error, says):
    mock.get(f"{API}/v2/me", body=error)

    with pytest.raises(HostError) as caught:
        client.me()

    assert caught.value.message == says


@pytest.mark.parametrize(
    "status, body, exc",
    [
        (403, {"status": 403, "code": "ACCESS_DENIED", "message": "Not enough permissions"}, Forbidden),
        (404, {"status": 404, "code": "RESOURCE_NOT_FOUND", "message": "Not found"}, NotFound),
        (400, {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present"}, BadRequest),
        (426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "Version 202201 is not active"}, BadRequest),
    ],
)
def test_other_4xx_are_mapped_and_never_retried(client, mock, sleeps, status, body, exc):
    mock.get(f"{API}/v2/me", status=status, json=body)

    with pytest.raises(exc) as caught:
        client.me()

    assert caught.value.code == body["code"]
    assert caught.value.status == status
    assert len(mock.calls) == 1 and sleeps == []


@pytest.mark.parametrize("kwargs", [{"body": "<html>gateway</html>"}, {"json": ["not", "an", "object"]}])
def test_a_success_that_is_not_a_json_object_is_a_bad_payload(client, mock, kwargs):
    mock.get(f"{API}/v2/me", status=200, **kwargs)

    with pytest.raises(BadPayload):
        client.me()


def test_the_token_never_appears_in_error_messages(retry, mock):
    client = LinkedInClient(API, access_token=TOKEN, refresh=lambda t: NEW_TOKEN, retry=retry)
    mock.get(f"{API}/v2/me", status=401, json=dict(EXPIRED, message=f"Token {TOKEN} has expired"))
    mock.get(f"{API}/v2/me", status=401, json=dict(EXPIRED, message=f"Token {NEW_TOKEN} has expired"))
    mock.get(f"{API}/v2/userinfo", body=requests.ConnectionError(f"Bearer {NEW_TOKEN}"))

    with pytest.raises(Unauthorized) as unauthorized:
        client.me()
    with pytest.raises(HostError) as host_error:
        client.userinfo()

    for exc in (unauthorized.value, host_error.value):
        shown = f"{exc} {exc!r} {exc.message} {exc.args}"
        assert TOKEN not in shown and NEW_TOKEN not in shown
    assert TOKEN not in repr(client) and NEW_TOKEN not in repr(client)


# Lead notifications


def test_create_lead_notification_posts_the_subscription_and_returns_the_restli_id(client, mock):
    mock.post(f"{API}/rest/leadNotifications", status=201, headers={"x-restli-id": "5678"})

    subscription_id = client.create_lead_notification(
        "https://leadsync.example.com/linkedin/webhook", ORG, "EVENT",
        versioned_form_urn="urn:li:versionedLeadGenForm:(urn:li:leadGenForm:818,1)",
        associated_entity="urn:li:event:789",
    )

    assert subscription_id == "5678"
    assert json.loads(mock.calls[0].request.body) == {
        "webhook": "https://leadsync.example.com/linkedin/webhook",
        "owner": {"organization": ORG},
        "leadType": "EVENT",
        "versionedForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:818,1)",
        "associatedEntity": {"event": "urn:li:event:789"},
    }


def test_create_lead_notification_is_not_retried(client, mock, sleeps):
    mock.post(f"{API}/rest/leadNotifications", status=500, json={"status": 500, "message": "boom"})

    with pytest.raises(ServerError):
        client.create_lead_notification("https://x.example.com/hook", ACCOUNT, "SPONSORED")

    assert len(mock.calls) == 1 and sleeps == []


def test_create_lead_notification_without_an_id_is_a_bad_payload(client, mock):
    mock.post(f"{API}/rest/leadNotifications", status=201)

    with pytest.raises(BadPayload):
        client.create_lead_notification("https://x.example.com/hook", ACCOUNT, "SPONSORED")


def test_list_and_delete_lead_notifications(client, mock):
    subscription = {
        "id": 5678, "webhook": "https://x.example.com/hook", "owner": {"organization": ORG}, "leadType": "EVENT"
    }
    mock.get(f"{API}/rest/leadNotifications", json=page([subscription], total=1))
    mock.delete(f"{API}/rest/leadNotifications/5678", status=204)

    assert client.lead_notifications(ORG, "EVENT") == [subscription]
    client.delete_lead_notification(5678)

    assert query_of(mock.calls[0]) == (
        "q=criteria&owner=(value:(organization:urn%3Ali%3Aorganization%3A5509810))&leadType=(leadType:EVENT)"
        "&count=10&start=0"
    )
    assert mock.calls[1].request.method == "DELETE"


# OAuth


@pytest.fixture
def oauth(retry):
    return LinkedInOAuth(OAUTH, client_id="78abc", client_secret="s3cr3t==", retry=retry)


def form_of(call):
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def test_authorization_url_space_separates_and_encodes_scopes(oauth):
    url = oauth.authorization_url("https://leadsync.example.com/linkedin/callback/", "st-1",
                                  scopes=LinkedInOAuth.SCOPES + (LinkedInOAuth.EVENT_SCOPE,))

    assert url == (
        f"{OAUTH}/authorization?response_type=code&client_id=78abc"
        "&redirect_uri=https%3A%2F%2Fleadsync.example.com%2Flinkedin%2Fcallback%2F&state=st-1"
        "&scope=r_marketing_leadgen_automation%20r_organization_admin%20r_ads%20r_events%20openid%20profile%20email"
        "%20r_events_leadgen_automation"
    )


def test_exchange_code_parses_the_full_token_answer(oauth, mock):
    mock.post(f"{OAUTH}/accessToken", json={
        "access_token": "AQV8-fresh",
        "expires_in": 5183999,
        "refresh_token": "AQW-r",
        "refresh_token_expires_in": 31556951,
        "scope": "r_ads,r_marketing_leadgen_automation,r_organization_admin,openid,profile,email",
        "token_type": "Bearer",
    })

    tokens = oauth.exchange_code("code-1", "https://leadsync.example.com/linkedin/callback/")

    assert tokens == TokenSet(
        access_token="AQV8-fresh", expires_in=5183999, refresh_token="AQW-r", refresh_token_expires_in=31556951,
        scopes=("r_ads", "r_marketing_leadgen_automation", "r_organization_admin", "openid", "profile", "email"),
    )
    assert form_of(mock.calls[0]) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "https://leadsync.example.com/linkedin/callback/",
        "client_id": "78abc",
        "client_secret": "s3cr3t==",
    }
    assert "AQV8-fresh" not in repr(tokens) and "AQW-r" not in repr(tokens)


def test_a_token_answer_without_refresh_fields_is_fine(oauth, mock):
    mock.post(f"{OAUTH}/accessToken",
              json={"access_token": "AQV8-fresh", "expires_in": 5184000, "scope": "r_ads r_events"})

    tokens = oauth.refresh("AQW-r")

    assert tokens.refresh_token is None and tokens.refresh_token_expires_in is None
    assert tokens.scopes == ("r_ads", "r_events")
    assert form_of(mock.calls[0]) == {
        "grant_type": "refresh_token", "refresh_token": "AQW-r", "client_id": "78abc", "client_secret": "s3cr3t==",
    }


def test_a_token_answer_without_access_token_is_a_bad_payload(oauth, mock):
    mock.post(f"{OAUTH}/accessToken", json={"expires_in": 5184000})

    with pytest.raises(BadPayload):
        oauth.refresh("AQW-r")


def test_a_dead_refresh_token_asks_for_reauthorization(oauth, mock, sleeps):
    mock.post(f"{OAUTH}/accessToken", status=400, json={
        "error": "invalid_request",
        "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked",
    })

    with pytest.raises(OAuthError) as caught:
        oauth.refresh("AQW-r")

    assert caught.value.reauthorize is True
    assert caught.value.code == "invalid_request" and caught.value.status == 400
    assert "AQW-r" not in str(caught.value) and "s3cr3t" not in str(caught.value)
    assert len(mock.calls) == 1 and sleeps == []


def test_any_400_on_a_refresh_grant_asks_for_reauthorization(oauth, mock):
    mock.post(f"{OAUTH}/accessToken", status=400, json={"error": "invalid_request", "error_description": "bad AQW-r"})

    with pytest.raises(OAuthError) as caught:
        oauth.refresh("AQW-r")

    assert caught.value.reauthorize is True
    assert "AQW-r" not in str(caught.value)


def test_an_unknown_code_is_an_oauth_error_without_reauthorize(oauth, mock):
    mock.post(f"{OAUTH}/accessToken", status=401,
              json={"error": "invalid_request",
                    "error_description": "Unable to retrieve access token: authorization code not found"})

    with pytest.raises(OAuthError) as caught:
        oauth.exchange_code("code-1", "https://leadsync.example.com/linkedin/callback/")

    assert caught.value.reauthorize is False and caught.value.status == 401


def test_token_endpoint_5xx_is_retried(oauth, mock, sleeps):
    mock.post(f"{OAUTH}/accessToken", status=503)
    mock.post(f"{OAUTH}/accessToken", json={"access_token": "AQV8-fresh", "expires_in": 5184000})

    assert oauth.refresh("AQW-r").access_token == "AQV8-fresh"
    assert len(sleeps) == 1


def test_introspection_is_parsed_into_aware_datetimes_and_scopes(oauth, mock):
    answer = {"active": True, "client_id": "78abc", "authorized_at": 1493055596, "created_at": 1493055596,
              "status": "active", "expires_at": 1497497620, "scope": "r_ads,r_marketing_leadgen_automation",
              "auth_type": "3L"}
    mock.post(f"{OAUTH}/introspectToken", json=answer)

    info = oauth.introspect("AQV8-x")

    assert info == TokenInfo(
        active=True, status="active", expires_at=datetime(2017, 6, 15, 3, 33, 40, tzinfo=timezone.utc),
        scopes=("r_ads", "r_marketing_leadgen_automation"), auth_type="3L", raw=answer,
    )
    assert form_of(mock.calls[0]) == {"client_id": "78abc", "client_secret": "s3cr3t==", "token": "AQV8-x"}


def test_introspection_of_a_revoked_token(oauth, mock):
    revoked = {"active": False, "status": "revoked", "expires_at": 1497497620, "auth_type": "3L"}
    mock.post(f"{OAUTH}/introspectToken", json=revoked)

    info = oauth.introspect("AQV8-x")

    assert (info.active, info.status, info.scopes) == (False, "revoked", ())


def test_introspection_with_a_bad_secret_is_an_oauth_error(oauth, mock):
    mock.post(f"{OAUTH}/introspectToken", status=401,
              json={"error": "invalid_client", "error_description": "Client authentication failed"})

    with pytest.raises(OAuthError) as caught:
        oauth.introspect("AQV8-x")

    assert caught.value.code == "invalid_client" and caught.value.reauthorize is False


# Settings and imports


def test_from_settings_reads_django_settings_lazily(monkeypatch):
    settings = types.SimpleNamespace(
        LINKEDIN_API_URL="http://127.0.0.1:8000/sandbox/linkedin/",
        LINKEDIN_OAUTH_URL="http://127.0.0.1:8000/oauth/v2",
        LINKEDIN_VERSION="202511",
        LINKEDIN_CLIENT_ID="78abc",
        LINKEDIN_CLIENT_SECRET="s3cr3t==",
        LINKEDIN_PAGE_SIZE=250,
    )
    monkeypatch.setitem(sys.modules, "django.conf", types.SimpleNamespace(settings=settings))

    client = LinkedInClient.from_settings(access_token=TOKEN)
    oauth = LinkedInOAuth.from_settings()

    assert client.api_url == "http://127.0.0.1:8000/sandbox/linkedin"
    assert (client.version, client.page_size) == ("202511", 250)
    assert (oauth.oauth_url, oauth.client_id, oauth.client_secret) == (
        "http://127.0.0.1:8000/oauth/v2", "78abc", "s3cr3t=="
    )


def test_the_client_module_imports_without_django():
    code = "import sys, connectors.linkedin.client; assert 'django' not in sys.modules"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_one_version_of_a_form_is_read_by_its_encoded_versioned_urn(client, mock):
    form = {"id": 6083, "name": "Contact Us Form", "versionId": 1}
    key = "urn%3Ali%3AversionedLeadGenForm%3A%28urn%3Ali%3AleadGenForm%3A6083%2C1%29"
    mock.get(f"{API}/rest/leadForms/{key}", json=form)
    assert client.lead_form_version("6083", 1) == form
    assert mock.calls[0].request.url == f"{API}/rest/leadForms/{key}"


@pytest.mark.parametrize("body", [
    b'{"elements": [{"id": 1, "score": NaN}]}',
    b'{"elements": [{"id": "\\ud800"}]}',
    b'{"elements": [{"id": "a\\u0000"}]}',
    b'{"elements": ' + b"[" * 5000 + b"]" * 5000 + b"}",
])
def test_an_answer_the_database_could_not_keep_is_a_bad_payload_not_a_crash(client, mock, body):
    mock.get(f"{API}/rest/events", body=body, content_type="application/json")
    with pytest.raises(BadPayload):
        client.events(ORG)
