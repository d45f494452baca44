"""The lead-to-sales funnel (`leadsync report`): grouping per integration, form, event and campaign,
the window, test leads left out, CRM leads shared by several LinkedIn leads or deleted in the CRM,
conversion rates, the JSON shape and the text, and how few calls the CRM gets."""

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from connectors.exceptions import LeadSyncError, ServerError
from leads.cli.ops import report as cli_report
from leads.ops import report
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()


class FakeReader:
    """A CRM that knows `statuses` ({crm_id: leadStatus}); an id it does not know was deleted there."""

    def __init__(self, statuses=None, error=None):
        self.statuses = statuses or {}
        self.error = error
        self.calls = []

    def __call__(self, *, connection, crm_ids, updated_since):
        self.calls.append({"connection": connection, "crm_ids": set(crm_ids), "updated_since": updated_since})
        if self.error:
            raise self.error
        return {i: self.statuses[i] for i in crm_ids if i in self.statuses}


def synced(integration, crm_id, **kw):
    return factories.lead(integration, state="synced", crm_id=crm_id, synced_at=NOW - timedelta(days=1), **kw)


def run(statuses=None, **kw):
    reader = FakeReader(statuses)
    return report.funnel_report(crm_reader=reader, **kw), reader


def row(rows, **match):
    [found] = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return found


def test_counts_linkedin_states_and_crm_stages_per_integration():
    a, b = factories.integration(name="Webinar"), factories.integration(name="Summit")
    synced(a, "1")
    synced(a, "2")
    factories.lead(a, state="failed")
    factories.lead(a, state="pending")
    synced(b, "3")

    data, _ = run({"1": "qualified", "2": "contactWithOpp", "3": "open"})

    webinar = row(data["by_integration"], name="Webinar")
    assert (webinar["leads"], webinar["synced"], webinar["failed"], webinar["pending"]) == (4, 2, 1, 1)
    assert (webinar["qualified"], webinar["contactWithOpp"], webinar["open"]) == (1, 1, 0)
    assert webinar["id"] == a.pk and webinar["form_id"] == a.form.linkedin_id and webinar["crm"] == a.crm_connection.name
    summit = row(data["by_integration"], name="Summit")
    assert (summit["leads"], summit["synced"], summit["open"]) == (1, 1, 1)
    assert data["totals"]["leads"] == 5 and data["totals"]["synced"] == 3


def test_only_leads_submitted_in_the_window_count():
    integ = factories.integration()
    since, until = NOW - timedelta(days=10), NOW - timedelta(days=2)
    synced(integ, "1", submitted_at=since)  # the start is in
    synced(integ, "2", submitted_at=since - timedelta(seconds=1))
    synced(integ, "3", submitted_at=until)  # the end is out: consecutive windows never count a lead twice
    synced(integ, "4", submitted_at=since + timedelta(days=1))

    data, reader = run({"1": "open", "2": "open", "3": "open", "4": "open"}, since=since, until=until)

    assert data["totals"]["leads"] == 2
    assert reader.calls[0]["crm_ids"] == {"1", "4"}
    assert data["since"] == since.isoformat() and data["until"] == until.isoformat()


def test_the_default_window_is_the_last_90_days():
    integ = factories.integration()
    factories.lead(integ, submitted_at=NOW - timedelta(days=89))
    factories.lead(integ, submitted_at=NOW - timedelta(days=91))
    data, _ = run()
    assert data["totals"]["leads"] == 1


def test_test_leads_are_left_out():
    integ = factories.integration(include_test_leads=True)
    synced(integ, "1", test_lead=True)
    factories.lead(integ, state="skipped", test_lead=True)
    synced(integ, "2")

    data, reader = run({"1": "contactWithOpp", "2": "open"})

    assert data["totals"]["leads"] == 1 and data["totals"]["contactWithOpp"] == 0
    assert reader.calls[0]["crm_ids"] == {"2"}


def test_leads_sharing_a_crm_lead_each_report_its_status_and_count_once_as_a_crm_lead():
    integ = factories.integration()
    synced(integ, "77", email="same@example.com")
    synced(integ, "77", email="same@example.com")
    synced(integ, "78")

    data, reader = run({"77": "contact", "78": "unqualified"})

    totals = data["totals"]
    assert totals["synced"] == 3 and totals["contact"] == 2 and totals["unqualified"] == 1
    assert totals["crm_leads"] == 2
    assert reader.calls[0]["crm_ids"] == {"77", "78"}, "each CRM lead is asked for once"


def test_crm_leads_deleted_in_the_crm_are_counted_apart():
    integ = factories.integration()
    synced(integ, "1")
    synced(integ, "2")  # the CRM no longer has it

    data, _ = run({"1": "open"})

    totals = data["totals"]
    assert totals["crm_deleted"] == 1 and totals["open"] == 1 and totals["synced"] == 2
    assert totals["crm_leads"] == 1, "only CRM leads that still exist"


def test_a_crm_lead_without_a_status_is_not_put_in_a_stage():
    integ = factories.integration()
    synced(integ, "1")
    synced(integ, "")  # synced but without a CRM id: nothing to read

    data, _ = run({"1": None})

    totals = data["totals"]
    assert totals["crm_no_status"] == 2 and sum(totals[s] for s in report.CRM_STAGES) == 0


def test_conversion_rates_are_over_synced_leads():
    integ = factories.integration()
    for crm_id in "12345":
        synced(integ, crm_id)
    factories.lead(integ, state="failed")
    empty = factories.integration(name="Nothing synced")
    factories.lead(empty, state="pending")

    data, _ = run({"1": "unqualified", "2": "qualified", "3": "contact", "4": "contactWithOpp", "5": "open"})

    totals = row(data["by_integration"], id=integ.pk)
    assert totals["qualified_rate"] == 0.6  # qualified, contact, contactWithOpp of 5 synced
    assert totals["opportunity_rate"] == 0.2
    nothing = row(data["by_integration"], id=empty.pk)
    assert nothing["qualified_rate"] is None and nothing["opportunity_rate"] is None


def test_a_form_gathers_the_leads_of_all_its_integrations():
    form = factories.lead_form(name="Demo request")
    old = factories.integration(form=form, state="torn_down")
    new = factories.integration(form=form)
    synced(old, "1")
    synced(new, "2")

    data, _ = run({"1": "open", "2": "qualified"})

    assert len(data["by_integration"]) == 2
    [form_row] = data["by_form"]
    assert form_row["id"] == form.pk and form_row["form_id"] == form.linkedin_id and form_row["name"] == "Demo request"
    assert form_row["urn"] == f"urn:li:leadGenForm:{form.linkedin_id}"
    assert (form_row["leads"], form_row["open"], form_row["qualified"]) == (2, 1, 1)


def test_event_leads_are_grouped_by_their_event_with_its_name():
    owner = factories.owner()
    summit = factories.event(owner, urn="urn:li:event:555", name="Data Summit")
    form = factories.lead_form(owner, event=summit)
    integ = factories.integration(form=form)
    synced(integ, "1", associated_entity_urn="urn:li:event:555")
    synced(integ, "2", associated_entity_urn="urn:li:sponsoredCreative:9", lead_type="SPONSORED")  # its form's event
    other_event = factories.integration()
    factories.lead(other_event, associated_entity_urn="urn:li:event:999")  # an event LeadSync never discovered
    company = factories.integration(form=factories.lead_form(lead_types=["COMPANY"]))
    factories.lead(company, lead_type="COMPANY")

    data, _ = run({"1": "contact", "2": "open"})

    assert {r["urn"] for r in data["by_event"]} == {"urn:li:event:555", "urn:li:event:999"}
    event_row = row(data["by_event"], urn="urn:li:event:555")
    assert event_row["name"] == "Data Summit" and event_row["leads"] == 2 and event_row["contact"] == 1
    assert row(data["by_event"], urn="urn:li:event:999")["name"] is None
    assert data["totals"]["leads"] == 4, "leads without an event still count in the totals"


def test_sponsored_leads_are_grouped_by_campaign():
    owner = factories.owner(urn="urn:li:sponsoredAccount:42", kind="sponsoredAccount")
    integ = factories.integration(form=factories.lead_form(owner, lead_types=["SPONSORED"]))
    synced(integ, "1", lead_type="SPONSORED", campaign_urn="urn:li:sponsoredCampaign:1")
    synced(integ, "2", lead_type="SPONSORED", campaign_urn="urn:li:sponsoredCampaign:1")
    synced(integ, "3", lead_type="SPONSORED", campaign_urn="urn:li:sponsoredCampaign:2")

    data, _ = run({"1": "contactWithOpp", "2": "open", "3": "open"})

    first = row(data["by_campaign"], urn="urn:li:sponsoredCampaign:1")
    assert first["leads"] == 2 and first["contactWithOpp"] == 1 and first["opportunity_rate"] == 0.5
    assert row(data["by_campaign"], urn="urn:li:sponsoredCampaign:2")["leads"] == 1
    assert data["by_event"] == []


def test_the_crm_is_read_once_per_connection_from_the_earliest_sync():
    crm_a, crm_b = factories.crm_connection(name="a"), factories.crm_connection(name="b")
    first, second = factories.integration(crm=crm_a), factories.integration(crm=crm_a)
    other = factories.integration(crm=crm_b)
    factories.lead(first, state="synced", crm_id="1", synced_at=NOW - timedelta(days=5))
    factories.lead(second, state="synced", crm_id="2", synced_at=NOW - timedelta(days=2))
    factories.lead(other, state="synced", crm_id="1", synced_at=NOW - timedelta(days=1))  # same id, other account
    factories.lead(other, state="failed", crm_id="")

    data, reader = run({"1": "open", "2": "open"})

    assert [c["connection"].name for c in reader.calls] == ["a", "b"]
    assert reader.calls[0]["crm_ids"] == {"1", "2"}
    assert reader.calls[0]["updated_since"] == NOW - timedelta(days=5)
    assert reader.calls[1]["crm_ids"] == {"1"}
    assert data["totals"]["crm_leads"] == 3, "CRM ids are distinct per CRM account"


def test_nothing_synced_means_no_crm_call():
    factories.lead(factories.integration(), state="pending")
    _, reader = run()
    assert reader.calls == []


def test_a_crm_that_cannot_be_read_fails_the_whole_report():
    factories.lead(factories.integration(crm=factories.crm_connection(name="sales")), state="synced", crm_id="1")
    reader = FakeReader(error=ServerError("CRM getLeadsDateRange failed on the CRM's side", status=503))
    with pytest.raises(report.ReportError, match="'sales'.*503.*No report was made"):
        report.funnel_report(crm_reader=reader)


# --- the default CRM reader ----------------------------------------------------------------------------------


class FakeClient:
    def __init__(self, in_range, by_id):
        self.in_range, self.by_id = in_range, by_id
        self.calls = []

    def get_leads_date_range(self, start, end, timestamp="create", fields=None):
        self.calls.append(("getLeadsDateRange", start, end, timestamp, fields))
        return self.in_range

    def get_lead(self, lead_id):
        self.calls.append(("getLead", lead_id))
        return self.by_id.get(lead_id)


def test_the_crm_is_read_with_one_date_range_call_then_one_call_per_lead_it_left_out():
    client = FakeClient(
        in_range=[{"id": "1", "leadStatus": "open"}, {"id": "2", "leadStatus": "qualified"},
                  {"id": "900", "leadStatus": "contact"}],  # not one of ours
        by_id={"3": {"id": "3", "leadStatus": "contactWithOpp", "active": "0"}},  # inactive or updated long ago
    )
    since = NOW - timedelta(days=3)

    statuses = report.crm_lead_statuses(connection=None, crm_ids={"1", "2", "3", "4"}, updated_since=since, client=client)

    assert statuses == {"1": "open", "2": "qualified", "3": "contactWithOpp"}  # 4 was deleted in the CRM
    method, start, end, timestamp, fields = client.calls[0]
    assert method == "getLeadsDateRange" and timestamp == "update" and fields == ["id", "leadStatus"]
    assert start <= since and end >= timezone.now()
    assert client.calls[1:] == [("getLead", "3"), ("getLead", "4")]


def test_no_crm_call_for_no_crm_ids():
    client = FakeClient([], {})
    assert report.crm_lead_statuses(connection=None, crm_ids=set(), updated_since=NOW, client=client) == {}
    assert client.calls == []


# --- the command line ----------------------------------------------------------------------------------------


class FakeCommand:
    """What `cli_report` (the CLI handler) needs of the management command."""

    def __init__(self):
        self.emitted = []

    def emit(self, data, *, text, stream=None):
        self.emitted.append((data, text))

    def progress(self, stage, done, total):
        pass


@pytest.fixture
def crm(monkeypatch):
    """The CRM behind the default reader: every lead is 'open' unless told otherwise."""
    statuses = {}

    def reader(*, connection, crm_ids, updated_since, progress=None):
        return {i: statuses.get(i, "open") for i in crm_ids}

    monkeypatch.setattr(report, "crm_lead_statuses", reader)
    return statuses


def test_cli_json_has_the_contracted_shape(crm):
    owner = factories.owner()
    summit = factories.event(owner, urn="urn:li:event:1", name="Summit")
    integ = factories.integration(form=factories.lead_form(owner, event=summit), name="Summit form")
    synced(integ, "1", associated_entity_urn="urn:li:event:1", campaign_urn="urn:li:sponsoredCampaign:7")
    command = FakeCommand()

    cli_report(command, {"since": None, "json": True})

    [(data, _)] = command.emitted
    assert set(data) == {"ok", "since", "until", "totals", "by_integration", "by_form", "by_event", "by_campaign"}
    assert data["ok"] is True
    counts = set(report.COUNT_KEYS) | {"qualified_rate", "opportunity_rate"}
    assert counts <= set(data["totals"])
    for key, identity in (("by_integration", {"id", "name", "form_id", "crm", "state"}),
                          ("by_form", {"id", "form_id", "name", "urn"}),
                          ("by_event", {"urn", "name"}), ("by_campaign", {"urn", "name"})):
        [group] = data[key]
        assert set(group) == counts | identity
        assert group["leads"] == 1 and group["open"] == 1 and group["crm_leads"] == 1


def test_cli_since_sets_the_window(crm):
    integ = factories.integration()
    factories.lead(integ, submitted_at=NOW - timedelta(days=200))
    factories.lead(integ, submitted_at=NOW - timedelta(days=5))
    command = FakeCommand()

    cli_report(command, {"since": (NOW - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")})

    [(data, _)] = command.emitted
    assert data["totals"]["leads"] == 2


@pytest.mark.parametrize("since, message", [
    ("yesterday", "not an ISO 8601"),
    ("2026-01-31", "needs a time zone"),
    ("2026-01-31T00:00:00", "needs a time zone"),
    ((NOW + timedelta(days=1)).isoformat(), "in the future"),
])
def test_cli_refuses_a_bad_since_with_exit_2(since, message):
    with pytest.raises(CommandError, match=message) as exc:
        cli_report(FakeCommand(), {"since": since})
    assert exc.value.returncode == 2


def test_cli_exits_1_when_the_crm_cannot_be_read(monkeypatch):
    factories.lead(factories.integration(), state="synced", crm_id="1")

    def unreachable(**kwargs):
        raise ServerError("CRM getLeadsDateRange failed on the CRM's side", status=500)

    monkeypatch.setattr(report, "crm_lead_statuses", unreachable)
    command = FakeCommand()
    # A LeadSyncError is what the command prints and exits 1 with (leads/cli/base.py).
    with pytest.raises(LeadSyncError, match="Could not read the current lead status"):
        cli_report(command, {"since": None})
    assert command.emitted == [], "no partial report"


def test_text_has_one_aligned_table_per_grouping(crm):
    owner = factories.owner()
    summit = factories.event(owner, urn="urn:li:event:1", name="Summit")
    integ = factories.integration(form=factories.lead_form(owner, event=summit, name="Registration"))
    synced(integ, "1", associated_entity_urn="urn:li:event:1")
    synced(integ, "2", associated_entity_urn="urn:li:event:1")
    factories.lead(integ, state="failed", associated_entity_urn="urn:li:event:1")
    crm["2"] = "contactWithOpp"
    command = FakeCommand()

    cli_report(command, {"since": None})

    [(_, text)] = command.emitted
    lines = text.splitlines()
    for title in ("By integration", "By form", "By event", "By campaign"):
        assert title in lines
    assert lines[lines.index("By campaign") + 1] == "  (none)"
    table = lines[lines.index("By event") + 1: lines.index("By event") + 3]
    assert table[0].startswith("event") and "contactWithOpp" in table[0] and "with opp" in table[0]
    assert table[1].startswith("Summit (urn:li:event:1)")
    assert len(table[0]) == len(table[1]), "columns are aligned"
    assert table[1].split()[-2:] == ["50.0%", "50.0%"]
    assert "skipped" not in text, "columns that are zero everywhere and rarely matter are left out"


@pytest.fixture
def leadsync():
    """`manage.py leadsync ARGS` in this process."""
    from tests.e2e.conftest import run_cli

    return run_cli


def test_the_command_prints_json_and_uses_the_contracted_exit_codes(leadsync, crm, monkeypatch):
    factories.lead(factories.integration(), state="synced", crm_id="1")

    result = leadsync("report", "--json")
    assert result.code == 0, result.err
    assert result.json["ok"] is True and result.json["totals"]["open"] == 1

    assert leadsync("report", "--since", "2026-01-31T00:00:00").code == 2

    def unreachable(**kwargs):
        raise ServerError("CRM getLeadsDateRange failed on the CRM's side", status=500)

    monkeypatch.setattr(report, "crm_lead_statuses", unreachable)
    result = leadsync("report", "--json")
    assert result.code == 1 and result.json["ok"] is False and "Could not read" in result.json["error"]
