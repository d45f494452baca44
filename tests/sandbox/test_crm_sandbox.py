"""The sandbox Lead Gen & CRM endpoint answers like the vendor's API documentation says the real one does."""

import ast
import json
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sandbox.crm import rpc, services
from sandbox.crm.models import CrmAccount, CrmCall, CrmFault, CrmField, CrmLead

pytestmark = pytest.mark.django_db

ACCOUNT_ID = "SANDBOX-ACCT-1"
SECRET = "s3cr3t-key-0123456789"
URL = "/sandbox/crm/pubapi/v1.2/"


@pytest.fixture
def account():
    account, _ = services.account_provision(
        account_id=ACCOUNT_ID,
        secret_key=SECRET,
        name="Acme CRM",
        custom_fields=[("LinkedIn Lead ID", "text"), ("Favorite Color", "text")],
    )
    return account


def post(client, body, *, account_id=ACCOUNT_ID, secret=SECRET, url=URL):
    query = {}
    if account_id is not None:
        query["accountID"] = account_id
    if secret is not None:
        query["secretKey"] = secret
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())}", raw, content_type="application/json")


def call(client, method, params, *, request_id="req-1", **kwargs):
    response = post(client, {"method": method, "params": params, "id": request_id}, **kwargs)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == request_id
    return body


def lead(email, **fields):
    return {"emailAddress": email, **fields}


def create(client, *objects):
    return call(client, "createLeads", {"objects": list(objects)})


def custom_name(account, label):
    return account.fields.get(is_custom=True, label=label).system_name


# --- the request and the envelope ----------------------------------------------------------------------------


def test_wrong_credentials_get_a_plain_text_401(client, account):
    response = post(client, {"method": "getFields", "params": {}, "id": "1"}, secret="wrong")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "Unable to determine clusterID from provided accountID/secretKey"

    unknown = post(client, {"method": "getFields", "params": {}, "id": "1"}, account_id="nobody")
    assert unknown.status_code == 401


def test_the_envelope_echoes_the_request_id_whatever_its_type(client, account):
    for request_id in ("abc-123", 42):
        body = call(client, "getLeads", {"where": {}}, request_id=request_id)
        assert set(body) == {"result", "error", "id"}
        assert body["id"] == request_id
        assert body["error"] is None


@pytest.mark.parametrize(
    ("body", "account_id", "secret", "code", "echoed_id"),
    [
        ({"method": "getFields", "params": {}}, ACCOUNT_ID, SECRET, 102, None),
        ({"method": "getFields", "params": {}, "id": "7"}, None, SECRET, 103, "7"),
        ({"method": "getFields", "params": {}, "id": "7"}, ACCOUNT_ID, None, 104, "7"),
        ("this is not json", ACCOUNT_ID, SECRET, 101, None),
        ({"method": "noSuchMethod", "params": {}, "id": "7"}, ACCOUNT_ID, SECRET, 201, "7"),
        ({"method": "getFields", "id": "7"}, ACCOUNT_ID, SECRET, 206, "7"),
        ({"method": "createLeads", "params": {}, "id": "7"}, ACCOUNT_ID, SECRET, 207, "7"),
    ],
    ids=["no-id", "no-account", "no-secret", "not-json", "unknown-method", "no-params", "no-objects"],
)
def test_api_level_errors_are_an_error_object_in_a_200(client, account, body, account_id, secret, code, echoed_id):
    response = post(client, body, account_id=account_id, secret=secret)
    assert response.status_code == 200
    payload = response.json()
    assert payload["result"] is None
    assert payload["id"] == echoed_id
    assert payload["error"]["code"] == code
    assert set(payload["error"]) == {"code", "message", "data"}


def test_the_endpoint_answers_without_the_trailing_slash_and_only_to_post(client, account):
    body = {"method": "getLeads", "params": {"where": {}}, "id": "x"}
    assert post(client, body, url=URL.rstrip("/")).json()["error"] is None
    assert client.get(f"{URL}?accountID={ACCOUNT_ID}&secretKey={SECRET}").status_code == 405


def test_a_malformed_object_fails_alone_with_208(client, account):
    body = create(client, "not a lead", lead("ok@example.com"))
    creates = body["result"]["creates"]
    assert creates[0]["error"]["code"] == 208
    assert creates[1]["success"] is True


def test_more_than_500_objects_are_refused_as_a_whole(client, account):
    too_many = [lead(f"lead{i}@example.com") for i in range(501)]
    body = call(client, "createLeads", {"objects": too_many})
    assert body["result"] is None
    assert body["error"]["code"] == 205
    assert "500" in body["error"]["message"]
    assert not CrmLead.objects.exists()

    body = call(client, "createLeads", {"objects": too_many[:500]})
    assert body["error"] == []
    assert len(body["result"]["creates"]) == 500


# --- fields --------------------------------------------------------------------------------------------------


def test_get_fields_lists_the_standard_fields_with_string_values(client, account):
    fields = call(client, "getFields", {"where": {}})["result"]["field"]
    by_name = {f["systemName"]: f for f in fields}
    email = by_name["emailAddress"]
    assert email["isRequired"] == "1"
    assert email["dataLength"] == "150"
    assert email["isCustom"] == "0"
    assert email["relationship"] == "lead"
    assert all(isinstance(v, str) for f in fields for k, v in f.items() if k != "options")
    assert [o["value"] for o in by_name["leadStatus"]["options"]] == [
        "unqualified",
        "open",
        "qualified",
        "contact",
        "contactWithOpp",
    ]
    assert {"firstName", "lastName", "companyName", "title", "trackingID", "industry"} <= set(by_name)

    custom = call(client, "getFields", {"where": {"isCustom": "1"}})["result"]["field"]
    assert [f["label"] for f in custom] == ["LinkedIn Lead ID", "Favorite Color"]
    page = call(client, "getFields", {"where": {}, "limit": 2, "offset": 1})["result"]["field"]
    assert [f["systemName"] for f in page] == [f["systemName"] for f in fields[1:3]]
    one = call(client, "getFields", {"where": {"systemName": "city"}})["result"]["field"]
    assert [f["label"] for f in one] == ["City"]


def test_create_fields_gives_the_label_a_13_hex_suffix_that_survives_a_rename(client, account):
    body = call(
        client,
        "createFields",
        {
            "objects": [
                {"relationship": "lead", "dataType": "text", "label": "Event Name (2026)", "isCustom": 1},
                {
                    "relationship": "lead",
                    "dataType": "picklist",
                    "label": "Company Size",
                    "isCustom": 1,
                    "options": ["1-10", "11-50"],
                },
            ]
        },
    )
    assert body["error"] == []
    created_id = body["result"]["creates"][0]["id"]
    assert isinstance(created_id, int)
    field = CrmField.objects.get(pk=created_id)
    assert re.fullmatch(r"Event_Name__2026__[0-9a-f]{13}", field.system_name)

    field.label = "Event"
    field.save()
    found = call(client, "getFields", {"where": {"id": str(created_id)}})["result"]["field"]
    assert found[0]["systemName"] == field.system_name

    picklist = call(client, "getFields", {"where": {"label": "Company Size"}})["result"]["field"][0]
    assert picklist["options"] == [
        {"label": "1-10", "value": "1-10", "displayOrder": "0"},
        {"label": "11-50", "value": "11-50", "displayOrder": "1"},
    ]


def test_create_fields_refuses_an_unknown_data_type_and_a_duplicate_label(client, account):
    body = call(
        client,
        "createFields",
        {
            "objects": [
                {"relationship": "lead", "dataType": "hologram", "label": "X", "isCustom": 1},
                {"relationship": "lead", "dataType": "text", "label": "Favorite Color", "isCustom": 1},
            ]
        },
    )
    assert [e["error"]["code"] for e in body["result"]["creates"]] == [205, 301]
    assert len(body["error"]) == 2


def test_only_custom_fields_can_be_deleted(client, account):
    color = custom_name(account, "Favorite Color")
    create(client, lead("c@example.com", **{color: "blue"}))
    body = call(client, "deleteFields", {"objects": [{"systemName": "firstName"}, {"systemName": color}]})
    deletes = body["result"]["deletes"]
    assert deletes[0]["error"]["code"] == 211
    assert deletes[1] == {"success": True, "error": None}
    assert body["error"] == [deletes[0]["error"]]
    assert not account.fields.filter(system_name=color).exists()
    assert color not in CrmLead.objects.get().data


# --- createLeads ---------------------------------------------------------------------------------------------


def test_create_leads_answers_each_object_in_input_order(client, account):
    create(client, lead("existing@example.com"))
    body = create(
        client,
        lead("new@example.com", firstName="Ada", id=12345),
        lead("EXISTING@example.com"),
        lead("null@example.com", lastName=None),
        lead("second@example.com"),
        lead("Second@Example.com"),
        lead("unknown@example.com", favouriteColour="red"),
        {"firstName": "No Email"},
        lead("long@example.com", firstName="x" * 51),
        lead("status@example.com", leadStatus="hot"),
    )
    creates = body["result"]["creates"]
    outcomes = [c["error"]["code"] if not c["success"] else "ok" for c in creates]
    assert outcomes == ["ok", 301, 205, "ok", 301, 205, 206, 205, 205]
    assert creates[1]["error"]["message"] == "Entry already exists"
    assert body["error"] == [c["error"] for c in creates if not c["success"]]

    first = creates[0]
    assert set(first) == {"success", "error", "id"}
    assert isinstance(first["id"], int) and first["id"] != 12345
    assert first["id"] > 2**31  # real ids are ten digits
    assert CrmLead.objects.count() == 3


def test_a_bulk_success_has_an_empty_error_array(client, account):
    body = create(client, lead("a@example.com"), lead("b@example.com"))
    assert body["error"] == []
    ids = [c["id"] for c in body["result"]["creates"]]
    assert ids[1] == ids[0] + 1


def test_standard_field_lengths_are_enforced(client, account):
    ok = lead("len@example.com", firstName="x" * 50, companyName="c" * 100, state="s" * 50, zipcode="z" * 50)
    too_long = lead("len2@example.com", companyName="c" * 101)
    body = create(client, ok, too_long)
    assert body["result"]["creates"][0]["success"] is True
    assert body["result"]["creates"][1]["error"]["code"] == 205
    assert body["result"]["creates"][1]["error"]["data"]["field"] == "companyName"


def test_unicode_names_round_trip(client, account):
    names = {"firstName": "Zoë", "lastName": "Łukasiewicz-Ñúñez 王", "companyName": "Société Générale ✓"}
    lead_id = create(client, lead("zoe@example.com", **names))["result"]["creates"][0]["id"]
    got = call(client, "getLead", {"id": lead_id})["result"]["lead"][0]
    assert {k: got[k] for k in names} == names


def test_an_inactive_lead_does_not_block_a_new_one_with_its_email(client, account):
    create(client, lead("gone@example.com", active="0"))
    assert create(client, lead("gone@example.com"))["error"] == []


def test_an_email_repeated_within_one_create_call_is_refused_for_the_later_objects(client, account):
    services.fault_set(account=account, changes={"reject_email_pattern": "^rejected@"})
    body = create(
        client,
        lead("rejected@example.com"),  # refused by the fault switch: takes no email
        lead("Rejected@example.com".lower()),
        lead("twice@example.com", firstName="First"),
        lead("TWICE@example.com", firstName="Second"),
        lead("sleeping@example.com", active="0"),  # inactive: left out of duplicate checks
        lead("sleeping@example.com"),
        lead("twice@example.com"),
    )
    outcomes = [c["error"]["code"] if not c["success"] else "ok" for c in body["result"]["creates"]]
    assert outcomes == [205, 205, "ok", 301, "ok", "ok", 301]
    assert body["result"]["creates"][3]["error"]["data"] == {"emailAddress": "TWICE@example.com"}
    assert CrmLead.objects.get(email_lower="twice@example.com").data["firstName"] == "First"
    ids = [c["id"] for c in body["result"]["creates"] if c["success"]]
    assert ids == list(range(ids[0], ids[0] + 3))


def test_create_leads_of_500_costs_a_bounded_number_of_queries(client, account):
    create(client, *[lead(f"old{i}@example.com") for i in range(50)])
    objects = [lead(f"new{i}@example.com", firstName="Ada") for i in range(500)]
    with CaptureQueriesContext(connection) as queries:
        body = create(client, *objects, lead("new7@example.com"))  # 501 objects: refused as a whole
    assert body["error"]["code"] == 205
    with CaptureQueriesContext(connection) as queries:
        body = create(client, *objects)
    assert body["error"] == [] and CrmLead.objects.count() == 550
    assert len(queries) <= 25  # not one per object (SQLite inserts in batches of under 999 parameters)


def test_update_leads_v2_of_500_costs_a_bounded_number_of_queries(client, account):
    ids = [c["id"] for c in create(client, *[lead(f"u{i}@example.com") for i in range(500)])["result"]["creates"]]
    objects = [{"id": lead_id, "emailAddress": f"u{i}@example.com", "title": "CTO"} for i, lead_id in enumerate(ids)]
    with CaptureQueriesContext(connection) as queries:
        body = call(client, "updateLeadsV2", {"objects": objects})
    assert body["error"] == []
    assert len(queries) <= 20
    assert set(CrmLead.objects.values_list("data__title", flat=True)) == {"CTO"}


# --- updateLeads and updateLeadsV2 ---------------------------------------------------------------------------


def test_update_leads_reports_success_for_an_unknown_lead_and_changes_nothing(client, account):
    lead_id = create(client, lead("u@example.com", firstName="Before"))["result"]["creates"][0]["id"]
    body = call(
        client,
        "updateLeads",
        {"objects": [{"id": lead_id + 1000, "firstName": "Ghost"}, lead("nobody@example.com", firstName="Ghost")]},
    )
    assert body["result"]["updates"] == [{"success": True, "error": None}] * 2
    assert body["error"] == []
    assert CrmLead.objects.count() == 1
    assert CrmLead.objects.get().data["firstName"] == "Before"


def test_update_leads_v2_answers_404_for_an_unknown_id_or_email(client, account):
    body = call(
        client,
        "updateLeadsV2",
        {"objects": [{"id": 1, "firstName": "Ghost"}, lead("nobody@example.com", firstName="Ghost")]},
    )
    assert [u["error"]["code"] for u in body["result"]["updates"]] == [404, 404]


def test_update_matches_by_id_else_by_email(client, account):
    lead_id = create(client, lead("match@example.com"))["result"]["creates"][0]["id"]
    call(client, "updateLeadsV2", {"objects": [{"id": str(lead_id), "emailAddress": "new@example.com"}]})
    body = call(client, "updateLeadsV2", {"objects": [lead("NEW@example.com", title="CTO")]})
    assert body["result"]["updates"] == [{"success": True, "error": None}]
    stored = CrmLead.objects.get()
    assert stored.data["emailAddress"] == "new@example.com"
    assert stored.data["title"] == "CTO"


def test_an_update_that_changes_nothing_is_302(client, account):
    lead_id = create(client, lead("same@example.com", firstName="Ada"))["result"]["creates"][0]["id"]
    body = call(client, "updateLeads", {"objects": [{"id": lead_id, "firstName": "Ada"}]})
    assert body["result"]["updates"][0]["error"]["code"] == 302
    assert body["result"]["updates"][0]["error"]["message"] == "no table rows affected"
    assert body["error"] == [body["result"]["updates"][0]["error"]]


def test_an_update_cannot_take_another_leads_email(client, account):
    ids = [c["id"] for c in create(client, lead("one@example.com"), lead("two@example.com"))["result"]["creates"]]
    body = call(client, "updateLeads", {"objects": [{"id": ids[0], "emailAddress": "TWO@example.com"}]})
    assert body["result"]["updates"][0]["error"]["code"] == 301


def test_each_object_of_an_update_call_sees_what_the_objects_before_it_changed(client, account):
    created = create(client, lead("a@example.com"), lead("b@example.com"), lead("c@example.com"))
    a, b, c = [entry["id"] for entry in created["result"]["creates"]]
    body = call(client, "updateLeadsV2", {"objects": [
        {"id": a, "emailAddress": "x@example.com"},  # a moves to x, freeing a@
        lead("X@example.com", firstName="Found"),  # found by the email it just took
        {"id": b, "emailAddress": "x@example.com"},  # x is a's now
        {"id": b, "emailAddress": "a@example.com"},  # a@ was freed above
        lead("a@example.com", title="CTO"),  # now names b
        {"id": a, "emailAddress": "x@example.com"},  # nothing left to change
        {"id": c, "active": "0"},
        {"id": a, "emailAddress": "C@example.com"},  # c went inactive: its email no longer blocks
        lead("c@example.com", firstName="Active first"),  # a (active) before c (inactive)
    ]})
    outcomes = [u["error"]["code"] if not u["success"] else "ok" for u in body["result"]["updates"]]
    assert outcomes == ["ok", "ok", 301, "ok", "ok", 302, "ok", "ok", "ok"]
    stored = {row.lead_id: row for row in CrmLead.objects.all()}
    assert stored[a].data["emailAddress"] == "C@example.com" and stored[a].email_lower == "c@example.com"
    assert stored[a].data["firstName"] == "Active first"
    assert stored[b].data["emailAddress"] == "a@example.com" and stored[b].data["title"] == "CTO"
    assert stored[c].is_active is False and "firstName" not in stored[c].data


def test_update_validates_fields_like_create(client, account):
    lead_id = create(client, lead("v@example.com"))["result"]["creates"][0]["id"]
    body = call(client, "updateLeads", {"objects": [{"id": lead_id, "city": None}, {"id": lead_id, "nope": 1}]})
    assert [u["error"]["code"] for u in body["result"]["updates"]] == [205, 205]


# --- reads ---------------------------------------------------------------------------------------------------


def test_get_leads_returns_ids_as_strings_and_pages_until_a_short_page(client, account):
    created = create(client, *[lead(f"p{i}@example.com") for i in range(5)])["result"]["creates"]
    seen, offset = [], 0
    while True:
        page = call(client, "getLeads", {"where": {}, "limit": 2, "offset": offset})["result"]["lead"]
        seen += page
        if len(page) < 2:
            break
        offset += 2
    assert [got["id"] for got in seen] == [str(c["id"]) for c in created]
    assert all(isinstance(got["id"], str) for got in seen)
    assert "hasMore" not in call(client, "getLeads", {"where": {}})["result"]


def test_get_leads_by_email_and_with_chosen_fields(client, account):
    create(client, lead("Pick@Example.com", firstName="Pick", lastName="Me"), lead("other@example.com"))
    found = call(
        client, "getLeads", {"where": {"emailAddress": "pick@example.com"}, "fields": ["id", "firstName"]}
    )["result"]["lead"]
    assert len(found) == 1
    assert set(found[0]) == {"id", "firstName"}
    assert found[0]["firstName"] == "Pick"

    full = call(client, "getLeads", {"where": {"emailAddress": "pick@example.com"}})["result"]["lead"][0]
    assert full["emailAddress"] == "Pick@Example.com"
    assert full["active"] == "1"
    assert full["companyName"] is None
    assert custom_name(account, "LinkedIn Lead ID") in full

    unknown = call(client, "getLeads", {"where": {"email": "x"}})
    assert unknown["error"]["code"] == 205


def test_get_lead_gives_zero_or_one(client, account):
    lead_id = create(client, lead("one@example.com"))["result"]["creates"][0]["id"]
    assert len(call(client, "getLead", {"id": lead_id})["result"]["lead"]) == 1
    assert call(client, "getLead", {"id": lead_id + 1})["result"]["lead"] == []


def test_get_leads_date_range_leaves_out_inactive_leads(client, account):
    create(client, lead("on@example.com"), lead("off@example.com", active="0"))
    now = datetime.now(dt_timezone.utc)
    params = {
        "startDate": (now - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
        "endDate": (now + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
        "timestamp": "create",
    }
    found = call(client, "getLeadsDateRange", params)["result"]["lead"]
    assert [got["emailAddress"] for got in found] == ["on@example.com"]
    later = dict(params, startDate=(now + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"))
    assert call(client, "getLeadsDateRange", later)["result"]["lead"] == []
    assert call(client, "getLeadsDateRange", dict(params, timestamp="yesterday"))["error"]["code"] == 205
    assert call(client, "getLeadsDateRange", dict(params, startDate="01/02/2026"))["error"]["code"] == 205


def test_delete_leads_by_id(client, account):
    lead_id = create(client, lead("del@example.com"))["result"]["creates"][0]["id"]
    body = call(client, "deleteLeads", {"objects": [{"id": lead_id}, {"id": lead_id}]})
    assert body["result"]["deletes"][0] == {"success": True, "error": None}
    assert body["result"]["deletes"][1]["error"]["code"] == 302
    assert not CrmLead.objects.exists()


def test_subscribe_to_lead_updates_and_get_events(client, account):
    body = call(client, "subscribeToLeadUpdates", {"url": "http://127.0.0.1:8000/hook"})
    assert body == {"result": {"success": True}, "error": None, "id": "req-1"}
    assert CrmAccount.objects.get().lead_updates_url == "http://127.0.0.1:8000/hook"
    assert call(client, "getEvents", {"where": {}, "limit": 10})["result"] == {"event": []}


# --- limits and faults ---------------------------------------------------------------------------------------


def set_faults(client, **switches):
    response = client.post(
        reverse("sandbox_crm:faults"), {"account_id": ACCOUNT_ID, **switches}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["faults"]


def test_the_throttle_switch_answers_107_in_a_200_then_recovers(client, account):
    assert set_faults(client, throttle_next_calls=2)["throttle_next_calls"] == 2
    for _ in range(2):
        body = call(client, "createLeads", {"objects": [lead("t@example.com")]})
        assert body["error"]["code"] == 107
        assert body["result"] is None
    assert not CrmLead.objects.exists()
    assert create(client, lead("t@example.com"))["error"] == []


def test_more_than_the_per_second_limit_answers_107(account):
    account.per_second_limit = 3
    account.save()
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt_timezone.utc)
    query = {"accountID": ACCOUNT_ID, "secretKey": SECRET}
    raw = json.dumps({"method": "getLeads", "params": {"where": {}}, "id": "r"}).encode()
    answers = [rpc.rpc_handle(query=query, raw_body=raw, now=now + timedelta(milliseconds=100 * i)) for i in range(4)]
    assert [a.payload["error"] for a in answers[:3]] == [None] * 3
    assert answers[3].status == 200
    assert answers[3].payload["error"]["code"] == 107
    later = rpc.rpc_handle(query=query, raw_body=raw, now=now + timedelta(seconds=2))
    assert later.payload["error"] is None


def test_more_than_the_daily_limit_answers_106(account):
    account.daily_limit = 2
    account.per_second_limit = 0
    account.save()
    day = datetime(2026, 3, 1, 0, 0, 1, tzinfo=dt_timezone.utc)
    query = {"accountID": ACCOUNT_ID, "secretKey": SECRET}
    raw = json.dumps({"method": "getLeads", "params": {"where": {}}, "id": "r"}).encode()
    codes = [
        (rpc.rpc_handle(query=query, raw_body=raw, now=day + timedelta(hours=h)).payload["error"] or {}).get("code")
        for h in (0, 1, 2)
    ]
    assert codes == [None, None, 106]
    assert rpc.rpc_handle(query=query, raw_body=raw, now=day + timedelta(days=1)).payload["error"] is None


def test_fault_switches_for_500_106_and_a_lost_answer(client, account):
    set_faults(client, fail_next_calls=1, daily_limit_next_calls=1, drop_next_answers=1)
    body = {"method": "createLeads", "params": {"objects": [lead("lost@example.com")]}, "id": "x"}
    assert post(client, body).status_code == 500
    assert not CrmLead.objects.exists()
    assert post(client, body).json()["error"]["code"] == 106
    dropped = post(client, body)
    assert dropped.status_code == 502
    assert CrmLead.objects.filter(email_lower="lost@example.com").exists()  # the work was done
    assert post(client, body).json()["result"]["creates"][0]["error"]["code"] == 301
    assert CrmFault.objects.get().is_quiet


def test_the_reject_switch_fails_matching_leads_with_the_chosen_error(client, account):
    set_faults(client, reject_email_pattern=r"@blocked\.test$", reject_code=999, reject_message="Rejected by rule")
    body = create(client, lead("a@blocked.test"), lead("b@fine.test"))
    creates = body["result"]["creates"]
    assert creates[0]["error"] == {
        "code": 999,
        "message": "Rejected by rule",
        "data": {"emailAddress": "a@blocked.test"},
    }
    assert creates[1]["success"] is True
    state = set_faults(client, reset=True)
    assert state["reject_email_pattern"] == ""


def test_the_fault_endpoint_refuses_unknown_switches_and_accounts(client, account):
    bad = client.post(
        reverse("sandbox_crm:faults"), {"account_id": ACCOUNT_ID, "explode": 1}, content_type="application/json"
    )
    assert bad.status_code == 400
    missing = client.post(reverse("sandbox_crm:faults"), {"account_id": "nope"}, content_type="application/json")
    assert missing.status_code == 404
    shown = client.get(reverse("sandbox_crm:faults"), {"account_id": ACCOUNT_ID})
    assert shown.json()["faults"]["throttle_next_calls"] == 0


# --- the call log, commands, admin ---------------------------------------------------------------------------


def test_every_call_is_logged_without_the_secret(client, account):
    create(client, lead("log@example.com"), lead("log@example.com"))
    post(client, {"method": "getFields", "params": {}, "id": "1"}, secret="wrong")
    logged = list(CrmCall.objects.order_by("id"))
    assert [(c.method, c.http_status, c.object_count, c.failed_count) for c in logged] == [
        ("createLeads", 200, 2, 1),
        ("getFields", 401, None, 0),
    ]
    assert logged[0].request["params"]["objects"][0]["emailAddress"] == "log@example.com"
    assert "301" in logged[0].summary
    assert logged[1].account is None
    assert SECRET not in json.dumps([c.request for c in logged] + [c.response for c in logged])


def test_the_account_command_is_idempotent(capsys):
    args = ["--account-id", "CMD-1", "--secret-key", "k", "--custom-field", "Webinar Topic:text", "--json"]
    call_command("sandbox_crm_account", *args)
    first = json.loads(capsys.readouterr().out)
    call_command("sandbox_crm_account", *args)
    second = json.loads(capsys.readouterr().out)
    assert first["created"] is True and second["created"] is False
    assert first["custom_fields"] == second["custom_fields"]
    assert re.fullmatch(r"Webinar_Topic_[0-9a-f]{13}", first["custom_fields"][0]["systemName"])
    account = CrmAccount.objects.get(account_id="CMD-1")
    assert account.fields.filter(is_custom=False, system_name="emailAddress").exists()

    call_command("sandbox_crm_account", "--account-id", "CMD-2", "--secret-key", "k", "--json")
    defaults = json.loads(capsys.readouterr().out)["custom_fields"]
    assert [f["label"] for f in defaults] == [label for label, _ in services.DEFAULT_CUSTOM_FIELDS]


def test_the_fault_command_flips_switches(capsys, account):
    call_command("sandbox_crm_fault", "--account-id", ACCOUNT_ID, "--throttle-next", "3", "--json")
    assert json.loads(capsys.readouterr().out)["faults"]["throttle_next_calls"] == 3
    call_command("sandbox_crm_fault", "--account-id", ACCOUNT_ID, "--reset", "--json")
    assert json.loads(capsys.readouterr().out)["faults"]["throttle_next_calls"] == 0


def test_the_admin_lists_leads_and_masks_secrets(admin_client, client, account):
    create(client, lead("admin@example.com", firstName="Grace", companyName="Navy"))
    leads_page = admin_client.get(reverse("admin:sandbox_crm_crmlead_changelist"), {"q": "admin@"})
    assert leads_page.status_code == 200
    assert b"Grace" in leads_page.content and b"Navy" in leads_page.content
    accounts_page = admin_client.get(reverse("admin:sandbox_crm_crmaccount_changelist"))
    assert accounts_page.status_code == 200
    assert SECRET.encode() not in accounts_page.content
    for model in ("crmfield", "crmcall", "crmfault"):
        assert admin_client.get(reverse(f"admin:sandbox_crm_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:sandbox_crm_crmaccount_change", args=[account.pk])).status_code == 200


def test_an_account_added_in_the_admin_gets_the_standard_fields(admin_client):
    response = admin_client.post(
        reverse("admin:sandbox_crm_crmaccount_add"),
        {
            "account_id": "ADMIN-1",
            "secret_key": "admin-secret",
            "name": "From the admin",
            "per_second_limit": 10,
            "daily_limit": 50000,
            "lead_updates_url": "",
            "fault-TOTAL_FORMS": 0,
            "fault-INITIAL_FORMS": 0,
            "fault-MIN_NUM_FORMS": 0,
            "fault-MAX_NUM_FORMS": 1,
        },
    )
    assert response.status_code == 302, response.content
    account = CrmAccount.objects.get(account_id="ADMIN-1")
    assert account.fields.filter(system_name="emailAddress", is_required=True).exists()
    assert CrmFault.objects.filter(account=account).exists()


def test_the_sandbox_crm_never_imports_the_product_apps():
    root = Path(services.__file__).parent
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"connectors", "mappings", "leads"}, f"{source} imports {name}"


# --- over real HTTP ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_round_trip_over_real_http(live_server):
    services.account_provision(account_id=ACCOUNT_ID, secret_key=SECRET)
    url = f"{live_server.url}{URL}"
    auth = {"accountID": ACCOUNT_ID, "secretKey": SECRET}
    created = requests.post(
        url,
        params=auth,
        json={
            "method": "createLeads",
            "params": {"objects": [lead("http@example.com", firstName="Über")]},
            "id": "h1",
        },
        timeout=10,
    )
    assert created.status_code == 200
    assert created.headers["Content-Type"] == "application/json"
    lead_id = created.json()["result"]["creates"][0]["id"]
    got = requests.post(
        url, params=auth, json={"method": "getLead", "params": {"id": lead_id}, "id": "h2"}, timeout=10
    ).json()
    assert got["id"] == "h2"
    assert got["result"]["lead"][0]["firstName"] == "Über"
    refused = requests.post(url, params={**auth, "secretKey": "nope"}, json={"method": "getLead"}, timeout=10)
    assert refused.status_code == 401
    assert refused.text == rpc.UNAUTHORIZED_TEXT


def test_the_hold_switch_holds_the_answer_of_the_nth_call_after_its_work_is_done(account):
    services.fault_set(account=account, changes={"hold_answer_of_call": 2})
    query = {"accountID": ACCOUNT_ID, "secretKey": SECRET}

    def create_one(email):
        body = {"method": "createLeads", "params": {"objects": [lead(email)]}, "id": email}
        return rpc.rpc_handle(query=query, raw_body=json.dumps(body).encode())

    first, second, third = create_one("one@example.com"), create_one("two@example.com"), create_one("three@example.com")

    assert (first.delay_ms, third.delay_ms) == (0, 0)
    assert second.delay_ms == 60_000 and second.payload["result"]["creates"][0]["success"]
    assert CrmLead.objects.filter(email_lower="two@example.com").exists(), "the work is done before the hold"
    assert CrmCall.objects.get(request_id="two@example.com").fault == "hold_answer_of_call"
    assert CrmFault.objects.get().is_quiet
