"""CrmClient against `responses`, with bodies shaped as the vendor documents them.

No Django, no network, no real sleeps: the clock and sleep are fakes that share one timeline.
"""

import json
import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.crm import client as crm_client
from connectors.crm.client import CrmClient, ObjectResult
from connectors.exceptions import BadPayload, CrmError, HostError, RateLimited, ServerError, Unauthorized
from connectors.http import RetryPolicy
from connectors.ratelimit import LocalLimiter

API_URL = "https://api.sharpspring.com/pubapi/v1.2/"
ACCOUNT_ID = "3_ACCT1C9C3E4A"
SECRET = "S3CR3T5B09F6D2A7E8"


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def fresh_throttles(monkeypatch):
    monkeypatch.setattr(LocalLimiter, "_states", {})


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def make_client(fake_time):
    def make(api_url=API_URL, **kwargs):
        kwargs.setdefault("account_id", ACCOUNT_ID)
        kwargs.setdefault("secret_key", SECRET)
        return CrmClient(api_url, clock=fake_time.clock, sleep=fake_time.sleep, **kwargs)

    return make


@pytest.fixture
def crm(make_client):
    return make_client()


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


def sent(call):
    return json.loads(call.request.body)


def answer(result=None, error=None):
    """A callback echoing the request id, as the CRM does."""

    def callback(request):
        body = {"result": result, "error": error, "id": json.loads(request.body)["id"]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    return callback


def add(rsps, result=None, error=None, url=API_URL):
    rsps.add_callback(responses.POST, url, callback=answer(result, error))


def api_error(code, message):
    return {"code": code, "message": message, "data": None}


CREATED = {"success": True, "error": None, "id": 3944308738}
DUPLICATE = {"success": False, "error": {"code": 301, "message": "Entry already exists", "data": None}}


# --- request ----------------------------------------------------------------------------------------


def test_request_carries_credentials_in_query_and_a_json_rpc_envelope(rsps, crm):
    add(rsps, {"lead": [{"id": "12", "emailAddress": "a@example.com"}]})

    crm.get_lead(12)

    request = rsps.calls[0].request
    url = urlsplit(request.url)
    assert url.path == "/pubapi/v1.2/"
    assert parse_qs(url.query) == {"accountID": [ACCOUNT_ID], "secretKey": [SECRET]}
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["method"] == "getLead"
    assert body["params"] == {"id": 12}
    assert isinstance(body["id"], str) and body["id"]


@pytest.mark.parametrize("api_url", [
    "https://crm.test/sandbox/crm/pubapi/v1.2",
    "https://crm.test/sandbox/crm/pubapi/v1.2/?cluster=eu",
])
def test_credentials_are_appended_to_any_url_shape(rsps, make_client, api_url):
    rsps.add_callback(responses.POST, api_url.split("?")[0], callback=answer({"field": []}))

    make_client(api_url).check()

    url = urlsplit(rsps.calls[0].request.url)
    assert url.path == urlsplit(api_url).path
    query = parse_qs(url.query)
    assert query["accountID"] == [ACCOUNT_ID] and query["secretKey"] == [SECRET]
    if "cluster" in api_url:
        assert query["cluster"] == ["eu"]


def test_each_request_gets_a_fresh_id(rsps, crm):
    add(rsps, {"field": []})
    crm.check()
    crm.check()
    assert sent(rsps.calls[0])["id"] != sent(rsps.calls[1])["id"]


def test_repr_and_safe_url_hide_credentials(crm):
    for text in (repr(crm), crm.safe_url):
        assert SECRET not in text and ACCOUNT_ID not in text


# --- envelope ---------------------------------------------------------------------------------------


def test_mismatched_echoed_id_is_a_bad_payload(rsps, crm):
    rsps.add(responses.POST, API_URL, json={"result": {"field": []}, "error": None, "id": "someone-else"})
    with pytest.raises(BadPayload, match="id"):
        crm.check()


def test_non_json_200_is_a_bad_payload(rsps, crm):
    rsps.add(responses.POST, API_URL, body="<html>maintenance</html>", status=200)
    with pytest.raises(BadPayload):
        crm.check()


def test_bad_credentials_401_plain_text_is_unauthorized_without_the_secret(rsps, crm, caplog):
    rsps.add(responses.POST, API_URL, status=401, content_type="text/plain",
             body="Unable to determine clusterID from provided accountID/secretKey")

    with caplog.at_level(logging.DEBUG), pytest.raises(Unauthorized) as excinfo:
        crm.check()

    assert excinfo.value.reason == "invalid"
    assert "account ID / secret key" in str(excinfo.value)
    assert len(rsps.calls) == 1
    for text in (str(excinfo.value), repr(excinfo.value), caplog.text):
        assert SECRET not in text and ACCOUNT_ID not in text


def test_authentication_error_code_is_unauthorized(rsps, crm):
    add(rsps, error=api_error(105, "Authentication failed"))
    with pytest.raises(Unauthorized) as excinfo:
        crm.check()
    assert excinfo.value.code == 105


def test_api_level_error_object_is_a_crm_error_with_its_code(rsps, crm):
    add(rsps, error={"code": 205, "message": "Invalid parameters", "data": {"param": "where"}})

    with pytest.raises(CrmError) as excinfo:
        crm.get_leads({"emailAddress": "a@example.com"})

    assert excinfo.value.code == 205
    assert excinfo.value.data == {"param": "where"}
    assert "Invalid parameters" in str(excinfo.value)
    assert len(rsps.calls) == 1


def test_api_error_without_echoed_id_is_still_reported_as_the_api_error(rsps, crm):
    body = {"result": None, "error": api_error(101, "Invalid request"), "id": None}
    rsps.add(responses.POST, API_URL, json=body)
    with pytest.raises(CrmError) as excinfo:
        crm.check()
    assert excinfo.value.code == 101


def test_crm_messages_echoing_a_credential_are_scrubbed(rsps, crm):
    add(rsps, error=api_error(999, f"unknown account {ACCOUNT_ID} / {SECRET}"))
    with pytest.raises(CrmError) as excinfo:
        crm.check()
    assert SECRET not in str(excinfo.value) and ACCOUNT_ID not in str(excinfo.value)


def test_server_error_is_raised_as_server_error_after_retries(rsps, crm, fake_time):
    rsps.add(responses.POST, API_URL, status=503, body="Service Unavailable")
    with pytest.raises(ServerError) as excinfo:
        crm.check()
    assert excinfo.value.status == 503
    assert len(rsps.calls) == crm.retry.max_attempts


# --- bulk writes ------------------------------------------------------------------------------------


def test_mixed_bulk_result_gives_per_object_results_in_input_order(rsps, crm):
    failed = DUPLICATE["error"]
    add(rsps, {"creates": [CREATED, DUPLICATE, {"success": True, "error": None, "id": 3944308739}]},
        error=[failed])

    results = crm.create_leads([{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"},
                                {"emailAddress": "c@example.com"}])

    assert results == [
        ObjectResult(0, True, "3944308738", None, None),
        ObjectResult(1, False, None, 301, "Entry already exists"),
        ObjectResult(2, True, "3944308739", None, None),
    ]
    assert sent(rsps.calls[0])["params"] == {"objects": [{"emailAddress": "a@example.com"},
                                                         {"emailAddress": "b@example.com"},
                                                         {"emailAddress": "c@example.com"}]}


def test_bulk_success_with_empty_error_array(rsps, crm):
    add(rsps, {"updates": [{"success": True, "error": None}]}, error=[])
    assert crm.update_leads_v2([{"id": "3944308738", "firstName": "Ada"}]) == [
        ObjectResult(0, True, "3944308738", None, None)
    ]


def test_update_v2_unknown_id_is_a_per_object_404(rsps, crm):
    not_found = api_error(404, "A record with that id does not exist")
    add(rsps, {"updates": [{"success": False, "error": not_found}]}, error=[not_found])
    [result] = crm.update_leads_v2([{"emailAddress": "nobody@example.com"}])
    assert (result.success, result.id, result.error_code) == (False, None, 404)


def test_result_count_mismatch_is_a_bad_payload(rsps, crm):
    add(rsps, {"creates": [CREATED]}, error=[])
    with pytest.raises(BadPayload, match="1 results for 2 objects"):
        crm.create_leads([{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"}])


def test_create_success_without_id_is_a_bad_payload(rsps, crm):
    add(rsps, {"creates": [{"success": True, "error": None}]}, error=[])
    with pytest.raises(BadPayload):
        crm.create_leads([{"emailAddress": "a@example.com"}])


def test_delete_sends_ids_only(rsps, crm):
    add(rsps, {"deletes": [{"success": True, "error": None}]}, error=[])
    assert crm.delete_leads(["3944308738"]) == [ObjectResult(0, True, "3944308738", None, None)]
    assert sent(rsps.calls[0])["params"] == {"objects": [{"id": "3944308738"}]}


@pytest.mark.parametrize("method", ["create_leads", "update_leads", "update_leads_v2", "create_fields"])
def test_more_than_500_objects_is_refused_before_any_call(rsps, crm, method):
    with pytest.raises(ValueError, match="at most 500"):
        getattr(crm, method)([{"emailAddress": f"{i}@example.com"} for i in range(501)])
    assert len(rsps.calls) == 0


def test_delete_more_than_500_ids_is_refused(rsps, crm):
    with pytest.raises(ValueError):
        crm.delete_leads(range(501))


def test_empty_batch_makes_no_call(rsps, crm):
    assert crm.create_leads([]) == []
    assert len(rsps.calls) == 0


# --- retries ----------------------------------------------------------------------------------------


def test_per_second_limit_is_retried_then_succeeds(rsps, crm, fake_time):
    add(rsps, error=api_error(107, "Per second call limit reached"))
    add(rsps, {"lead": []})

    assert crm.get_leads({"emailAddress": "a@example.com"}) == []

    assert len(rsps.calls) == 2
    assert fake_time.sleeps  # backed off before the second attempt


def test_per_second_limit_on_create_leads_is_retried_because_the_crm_refused_it(rsps, crm):
    add(rsps, error=api_error(107, "Per second call limit reached"))
    add(rsps, {"creates": [CREATED]}, error=[])

    [result] = crm.create_leads([{"emailAddress": "a@example.com"}])

    assert result.id == "3944308738"
    assert len(rsps.calls) == 2


def test_daily_limit_is_rate_limited_daily_and_not_retried(rsps, crm):
    add(rsps, error=api_error(106, "Daily call limit reached"))

    with pytest.raises(RateLimited) as excinfo:
        crm.get_leads({"emailAddress": "a@example.com"})

    assert excinfo.value.daily is True
    assert excinfo.value.code == 106
    assert len(rsps.calls) == 1


def test_create_leads_is_not_retried_on_a_server_error(rsps, crm):
    rsps.add(responses.POST, API_URL, status=500, body="Internal Server Error")

    with pytest.raises(ServerError):
        crm.create_leads([{"emailAddress": "a@example.com"}])

    assert len(rsps.calls) == 1


def test_create_leads_is_not_retried_when_the_connection_drops(rsps, crm):
    rsps.add(responses.POST, API_URL, body=requests.ConnectionError("connection reset"))

    with pytest.raises(HostError) as excinfo:
        crm.create_leads([{"emailAddress": "a@example.com"}])

    assert len(rsps.calls) == 1
    assert SECRET not in str(excinfo.value) and ACCOUNT_ID not in str(excinfo.value)


def test_update_leads_v2_is_retried_on_a_server_error(rsps, crm):
    rsps.add(responses.POST, API_URL, status=500, body="Internal Server Error")
    add(rsps, {"updates": [{"success": True, "error": None}]}, error=[])

    [result] = crm.update_leads_v2([{"id": "3944308738", "title": "CTO"}])

    assert result.success
    assert len(rsps.calls) == 2


def test_explicit_retry_policy_is_used(rsps, make_client, fake_time):
    rsps.add(responses.POST, API_URL, status=502)
    client = make_client(retry=RetryPolicy(max_attempts=2, sleep=fake_time.sleep))
    with pytest.raises(ServerError):
        client.check()
    assert len(rsps.calls) == 2


# --- throttle ---------------------------------------------------------------------------------------


def test_throttle_keeps_at_most_ten_requests_in_any_second(rsps, make_client, fake_time):
    starts = []

    def callback(request):
        starts.append(fake_time.now)
        return answer({"field": []})(request)

    rsps.add_callback(responses.POST, API_URL, callback=callback)
    first, second = make_client(), make_client()  # same account: one shared budget

    for i in range(35):
        (first if i % 2 else second).check()

    assert len(starts) == 35
    for i in range(len(starts) - 10):
        assert starts[i + 10] - starts[i] > 1.0  # strictly: even an inclusive one-second window holds 10
    assert starts[-1] - starts[0] == pytest.approx(3.4 * 1.1)  # 10% under the limit, not slowed down further


def test_throttle_is_per_account(rsps, make_client, fake_time):
    add(rsps, {"field": []})
    for account in ("A-ACCOUNT-1", "B-ACCOUNT-2"):
        for _ in range(10):
            make_client(account_id=account).check()
    assert sum(fake_time.sleeps) == pytest.approx(0.99 * 2)


def test_throttle_does_not_wait_when_requests_are_already_slow(rsps, crm, fake_time):
    add(rsps, {"field": []})
    for _ in range(5):
        crm.check()
        fake_time.now += 0.5
    assert fake_time.sleeps == []


# --- reads and paging -------------------------------------------------------------------------------


def lead(n):
    return {"id": str(n), "emailAddress": f"{n}@example.com", "firstName": "Ada"}


def test_get_leads_pages_until_a_short_page(rsps, crm):
    add(rsps, {"lead": [lead(1), lead(2)]})
    add(rsps, {"lead": [lead(3), lead(4)]})
    add(rsps, {"lead": [lead(5)]})

    leads = crm.get_leads({}, fields=["id", "emailAddress"], page_size=2)

    assert [x["id"] for x in leads] == ["1", "2", "3", "4", "5"]
    params = [sent(call)["params"] for call in rsps.calls]
    assert [(p["limit"], p["offset"]) for p in params] == [(2, 0), (2, 2), (2, 4)]
    assert params[0]["where"] == {} and params[0]["fields"] == ["id", "emailAddress"]


def test_get_leads_stops_on_an_empty_page_after_a_full_one(rsps, crm):
    add(rsps, {"lead": [lead(1), lead(2)]})
    add(rsps, {"lead": []})
    assert len(crm.get_leads({}, page_size=2)) == 2
    assert len(rsps.calls) == 2


def test_get_leads_defaults_to_500_per_page(rsps, crm):
    add(rsps, {"lead": [lead(1)]})
    crm.get_leads({"emailAddress": "1@example.com"})
    assert sent(rsps.calls[0])["params"]["limit"] == 500
    with pytest.raises(ValueError):
        crm.get_leads({}, page_size=501)


def test_get_fields_pages_until_a_short_page_and_keeps_values_as_given(rsps, crm):
    field = {"id": "7", "relationship": "lead", "systemName": "Favorite_Color_5a0dd86e6e290",
             "label": "Favorite Color", "dataType": "text", "isCustom": "1", "dataLength": "255"}
    add(rsps, {"field": [field, {**field, "id": "8"}]})
    add(rsps, {"field": [{**field, "id": "9"}]})

    fields = crm.get_fields({"isCustom": "1"}, page_size=2)

    assert fields == [field, {**field, "id": "8"}, {**field, "id": "9"}]
    assert [sent(call)["params"] for call in rsps.calls] == [
        {"where": {"isCustom": "1"}, "limit": 2, "offset": 0},
        {"where": {"isCustom": "1"}, "limit": 2, "offset": 2},
    ]


def test_get_lead_returns_none_when_missing_and_normalises_ids(rsps, crm):
    add(rsps, {"lead": []})
    add(rsps, {"lead": [{**lead(1), "id": 1}]})
    assert crm.get_lead(99) is None
    assert crm.get_lead(1)["id"] == "1"


def test_missing_result_list_is_a_bad_payload(rsps, crm):
    add(rsps, {"leads": []})
    with pytest.raises(BadPayload):
        crm.get_lead(1)


def test_get_leads_by_email_maps_found_emails(rsps, crm):
    add(rsps, {"lead": [lead(1)]})
    add(rsps, {"lead": []})

    found = crm.get_leads_by_email(["1@example.com", "missing@example.com", "1@example.com"])

    assert found == {"1@example.com": lead(1)}
    assert [sent(c)["params"]["where"] for c in rsps.calls] == [
        {"emailAddress": "1@example.com"}, {"emailAddress": "missing@example.com"}]


def test_get_leads_date_range_formats_utc_timestamps(rsps, crm):
    add(rsps, {"lead": [lead(1)]})
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    crm.get_leads_date_range(start, "2024-05-02 00:00:00", timestamp="update")

    assert sent(rsps.calls[0])["params"] == {
        "startDate": "2024-05-01 10:00:00", "endDate": "2024-05-02 00:00:00", "timestamp": "update"}
    with pytest.raises(ValueError):
        crm.get_leads_date_range(start, start, timestamp="modified")


def test_from_settings_uses_the_given_url_without_django(rsps):
    client = CrmClient.from_settings(ACCOUNT_ID, SECRET, api_url="https://crm.test/pubapi/v1.2/")
    assert client.safe_url == "https://crm.test/pubapi/v1.2/"


def test_an_object_error_keeps_its_data_as_a_short_detail(rsps, crm):
    refused = {"success": False, "error": {"code": 205, "message": "Invalid parameters",
                                           "data": {"field": "Track_5a0", "reason": "unknown field"}}}
    add(rsps, {"creates": [refused]}, error=[refused["error"]])
    [result] = crm.create_leads([{"emailAddress": "a@example.com", "Track_5a0": "x"}])
    assert result.error_code == 205 and result.error_detail == "field: Track_5a0, reason: unknown field"
    assert result.error_fields == ("Track_5a0",)


SENT = {"emailAddress": "a@example.com", "firstName": "Ada", "companyName": "Analytical Engines", "Track_5a0": "x"}


@pytest.mark.parametrize("error, fields", [
    ({"code": 205, "message": "Invalid parameters", "data": {"field": "companyName", "reason": "too long"}},
     ("companyName",)),
    ({"code": 205, "message": "Invalid parameters", "data": {"fields": ["Track_5a0", "firstName"]}},
     ("firstName", "Track_5a0")),
    ({"code": 205, "message": "Invalid parameters", "data": {"companyName": "longer than 12 characters"}},
     ("companyName",)),
    ({"code": 205, "message": "Invalid parameters", "data": ["firstName"]}, ("firstName",)),
    ({"code": 205, "message": "Invalid parameters", "data": "Track_5a0"}, ("Track_5a0",)),
    ({"code": 205, "message": "Invalid parameters: companyName", "data": None}, ("companyName",)),
    ({"code": 303, "message": "Foreign key failure", "data": [{"systemName": "firstName"}]}, ("firstName",)),
    ({"code": 205, "message": "Invalid parameters", "data": {"emailAddress": "a@example.com"}}, ("emailAddress",)),
    # Nothing the object carries: the error names no field of it.
    ({"code": 205, "message": "Invalid parameters", "data": {"field": "ownerID"}}, ()),
    ({"code": 205, "message": "Invalid parameters", "data": None}, ()),
    ({"code": 205, "message": "Invalid parameters for id", "data": {"id": 7}}, ()),
])
def test_an_object_error_names_the_fields_it_is_about_in_every_seen_shape(error, fields):
    assert crm_client.named_fields(error, {**SENT, "id": 7}) == fields


def test_named_fields_takes_hostile_data_without_failing():
    deep = "firstName"
    for _ in range(100):
        deep = {"data": [deep]}
    assert crm_client.named_fields({"code": 205, "data": deep}, SENT) == ()
    assert crm_client.named_fields({"code": 205, "data": {1: 2, None: [None, 3.5]}}, SENT) == ()
    assert crm_client.named_fields("not an object", SENT) == ()
