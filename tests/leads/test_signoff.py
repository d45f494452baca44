"""The sign-off report (LGF-001 … LGF-110): each line's status follows the product's state, the
evidence is what an operator can show LinkedIn, and no token or secret ever reaches it."""

import json
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from connectors.models import LinkedInConnection
from connectors.schedules import heartbeat_schedule_ensure
from leads.management.commands.leadsync import Command
from leads.models import Lead, SyncRun
from leads.cli.ops import signoff as cli_signoff
from leads.ops.signoff.checks import CHECKLIST, signoff_report
from leads.ops.signoff.render import signoff_html, signoff_text
from mappings.models import Integration
from tests import factories

# Also run on PostgreSQL by `make test`: the report's JSON text match and subqueries must hold on both.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()


def lines(**kwargs):
    return {line["id"]: line for line in signoff_report(now=NOW, **kwargs)["lines"]}


def line(line_id, **kwargs):
    return lines(**kwargs)[line_id]


def evidence(found):
    return "\n".join(found["evidence"])


def connected(**kw):
    """A connection as `linkedin add` or the OAuth callback leaves it."""
    defaults = dict(authorized_at=NOW - timedelta(hours=1), last_heartbeat_at=NOW - timedelta(minutes=5),
                    last_heartbeat_ok=True)
    connection = factories.linkedin_connection(**{**defaults, **kw})
    heartbeat_schedule_ensure()
    return connection


def integration_below(connection, **kw):
    """An organization of `connection`, its event with a form, and that form's integration."""
    org = factories.owner(connection, name=kw.pop("org_name", "Acme"))
    event = factories.event(org, name="Summit", lead_form_urn="urn:li:leadGenForm:1")
    form = factories.lead_form(org, event=event, name=kw.pop("form_name", "Summit registration"))
    return factories.integration(form=form, **kw)


class StandInCommand:
    """The parts of the leadsync management command that cli_signoff uses."""

    def __init__(self):
        self.data = self.text = None

    def emit(self, data, *, text, stream=None):
        self.data, self.text = data, text


# --- the report as a whole ------------------------------------------------------------------------

def test_an_empty_install_is_ready_everywhere_and_fails_nothing():
    report = signoff_report(now=NOW)
    assert report["summary"] == {"pass": 0, "ready": len(CHECKLIST), "fail": 0}
    assert all(line["how_to_demonstrate"] for line in report["lines"])


def test_the_json_document_lists_every_line_in_linkedins_order():
    integration_below(connected())
    report = signoff_report(now=NOW)
    json.dumps(report)  # plain JSON, no datetimes or model instances
    assert report["ok"] is True
    assert set(report["summary"]) == {"pass", "ready", "fail"}
    assert sum(report["summary"].values()) == len(CHECKLIST)
    assert [line["id"] for line in report["lines"]] == [line_id for line_id, _ in CHECKLIST]
    for found in report["lines"]:
        assert set(found) == {"id", "title", "status", "evidence", "how_to_demonstrate"}
        assert found["status"] in ("pass", "ready", "fail")
        assert all(isinstance(e, str) for e in found["evidence"])


@responses.activate  # any HTTP request would raise: the report must not make one
def test_the_report_makes_no_network_call():
    connection = connected(status=LinkedInConnection.Status.NEEDS_REAUTH, last_error="refresh token expired")
    integ = integration_below(connection)
    factories.lead(integ, state=Lead.State.SYNCED, crm_id="77")
    factories.sync_run(integ, trigger=SyncRun.Trigger.BACKFILL, state=SyncRun.State.SUCCEEDED,
                       window_start=NOW - timedelta(days=3), window_end=NOW)
    signoff_report(now=NOW)
    assert len(responses.calls) == 0


def test_the_report_asks_the_database_the_same_number_of_times_for_one_or_many_integrations():
    def populate(connection, n):
        for k in range(n):
            integ = integration_below(connection, org_name=f"Org {k}")
            factories.field_mapping(integ)
            factories.lead(integ, state=Lead.State.SYNCED, crm_id=str(k))
            factories.sync_run(integ, state=SyncRun.State.SUCCEEDED, created=1)

    one = connected(name="one")
    populate(one, 1)
    many = connected(name="many")
    populate(many, 6)
    with CaptureQueriesContext(db) as for_one:
        signoff_report(connection=one, now=NOW)
    with CaptureQueriesContext(db) as for_many:
        signoff_report(connection=many, now=NOW)
    assert len(for_many) == len(for_one), len(for_many)



# --- Basics ---------------------------------------------------------------------------------------

def test_lgf_001_passes_with_the_consent_time_and_granted_scopes():
    connected(name="alex")
    found = line("LGF-001")
    assert found["status"] == "pass"
    assert "alex" in evidence(found) and "r_marketing_leadgen_automation" in evidence(found)


def test_lgf_001_is_ready_without_a_recorded_consent_and_fails_without_a_lead_scope():
    factories.linkedin_connection(name="no-consent")
    assert line("LGF-001")["status"] == "ready"
    connected(name="no-leads", scopes=["r_organization_admin", "r_ads"])
    found = line("LGF-001")
    assert found["status"] == "fail" and "no-leads" in evidence(found)


def test_lgf_002_passes_with_an_enabled_schedule_and_a_recorded_heartbeat():
    connected(name="alex")
    found = line("LGF-002")
    assert found["status"] == "pass"
    assert "LeadSync: LinkedIn token heartbeat" in evidence(found) and "token valid" in evidence(found)


def test_lgf_002_fails_when_the_heartbeat_schedule_is_disabled():
    connected()
    PeriodicTask.objects.filter(task="connectors.heartbeat").update(enabled=False)
    found = line("LGF-002")
    assert found["status"] == "fail" and "DISABLED" in evidence(found)


def test_lgf_002_fails_when_the_last_heartbeat_could_not_check_an_active_connection():
    connected(name="alex", last_heartbeat_ok=False, last_error="heartbeat could not reach LinkedIn: timeout")
    found = line("LGF-002")
    assert found["status"] == "fail" and "could not reach LinkedIn" in evidence(found)


def test_lgf_003_passes_when_expiry_is_known_and_fails_when_an_expired_token_went_unnoticed():
    connected(name="alex")
    assert line("LGF-003")["status"] == "pass"
    connected(name="stale", refresh_token="", access_token_expires_at=NOW - timedelta(days=1),
              last_heartbeat_at=NOW - timedelta(days=2))
    found = line("LGF-003")
    assert found["status"] == "fail" and "stale" in evidence(found)


def test_lgf_003_is_ready_while_the_access_token_expiry_is_unknown():
    connected(access_token_expires_at=None)
    assert line("LGF-003")["status"] == "ready"


def test_lgf_004_fails_while_a_connection_needs_reauthorisation_and_points_at_the_reconnect_paths():
    connected(name="alex", status=LinkedInConnection.Status.NEEDS_REAUTH,
              last_error="The refresh token expired (365 days after consent): connect the account again.")
    found = line("LGF-004")
    assert found["status"] == "fail"
    assert "alex" in evidence(found) and "refresh token expired" in evidence(found)
    assert "/linkedin/connect/" in found["how_to_demonstrate"]
    assert "leadsync linkedin add" in found["how_to_demonstrate"]


def test_lgf_004_is_ready_for_a_fresh_connection_and_passes_once_it_was_reauthorised():
    connection = connected(name="alex", authorized_at=NOW)
    LinkedInConnection.objects.filter(pk=connection.pk).update(created_at=NOW)
    assert line("LGF-004")["status"] == "ready"
    LinkedInConnection.objects.filter(pk=connection.pk).update(created_at=NOW - timedelta(days=30))
    found = line("LGF-004")
    assert found["status"] == "pass" and "re-authorised" in evidence(found)


def test_lgf_005_is_ready_until_a_token_was_refreshed_then_passes():
    connection = connected(name="alex")
    found = line("LGF-005")
    assert found["status"] == "ready" and "leadsync linkedin heartbeat" in found["how_to_demonstrate"]
    LinkedInConnection.objects.filter(pk=connection.pk).update(last_refreshed_at=NOW - timedelta(hours=2))
    found = line("LGF-005")
    assert found["status"] == "pass" and "last renewed" in evidence(found)


def test_lgf_005_fails_when_linkedin_issued_no_refresh_token():
    connected(refresh_token="")
    assert line("LGF-005")["status"] == "fail"


def test_lgf_006_passes_with_the_refresh_expiry_and_shows_the_countdown_when_it_is_near():
    connected(name="alex", refresh_token_expires_at=NOW + timedelta(days=10, hours=1))
    found = line("LGF-006")
    assert found["status"] == "pass"
    assert "banner now" in evidence(found) and "expires in 10 days" in evidence(found)


def test_lgf_006_fails_when_a_refresh_token_has_expired():
    connected(name="alex", refresh_token_expires_at=NOW - timedelta(days=1))
    found = line("LGF-006")
    assert found["status"] == "fail" and "re-connect" in evidence(found)


def test_lgf_007_passes_without_permission_problems_and_fails_with_them():
    connection = connected(name="alex")
    factories.owner(connection, role="ADMINISTRATOR")
    assert line("LGF-007")["status"] == "pass"
    LinkedInConnection.objects.filter(pk=connection.pk).update(
        permission_problems=["cannot read ad accounts or their sponsored lead forms: scope r_ads not granted"])
    found = line("LGF-007")
    assert found["status"] == "fail" and "scope r_ads not granted" in evidence(found)


# --- Core -----------------------------------------------------------------------------------------

def test_lgf_101_lists_the_organizations_with_their_roles():
    connection = connected(name="alex", discovered_at=NOW)
    factories.owner(connection, name="Acme", role="ADMINISTRATOR", urn="urn:li:organization:11")
    factories.owner(connection, name="Globex", role="LEAD_GEN_FORMS_MANAGER", urn="urn:li:organization:12")
    found = line("LGF-101")
    assert found["status"] == "pass"
    assert "2 organizations" in evidence(found)
    assert "Acme (ADMINISTRATOR, urn:li:organization:11)" in evidence(found)
    assert "Globex (LEAD_GEN_FORMS_MANAGER" in evidence(found)


def test_lgf_101_is_ready_before_discovery_and_fails_when_discovery_failed_or_found_nothing():
    connection = connected()
    assert line("LGF-101")["status"] == "ready"
    LinkedInConnection.objects.filter(pk=connection.pk).update(discovered_at=NOW)
    assert line("LGF-101")["status"] == "fail"
    LinkedInConnection.objects.filter(pk=connection.pk).update(discovery_status="failed: LinkedIn answered 500")
    found = line("LGF-101")
    assert found["status"] == "fail" and "LinkedIn answered 500" in evidence(found)


def test_lgf_102_passes_with_the_events_that_carry_a_form():
    org = factories.owner(connected(discovered_at=NOW), name="Acme")
    factories.event(org, name="Summit", urn="urn:li:event:1", lead_form_urn="urn:li:leadGenForm:9")
    factories.event(org, name="Meetup without form", urn="urn:li:event:2")
    found = line("LGF-102")
    assert found["status"] == "pass"
    assert "1 of 2" in evidence(found) and "Summit (urn:li:event:1, form urn:li:leadGenForm:9)" in evidence(found)
    assert "Meetup without form" not in evidence(found)


def test_lgf_102_is_ready_when_no_event_carries_a_form():
    factories.event(factories.owner(connected(discovered_at=NOW)))
    assert line("LGF-102")["status"] == "ready"


def test_lgf_103_counts_questions_hidden_fields_and_consents_of_each_form():
    form = factories.lead_form(factories.owner(connected()), name="Summit registration")
    version = form.versions.get()
    version.definition = {**version.definition, "hidden_fields": [{"name": "utm_source"}],
                          "consents": [{"id": "c1"}, {"id": "c2"}]}
    version.save()
    found = line("LGF-103")
    assert found["status"] == "pass"
    assert f"form {form.linkedin_id} “Summit registration” v1" in evidence(found)
    assert "2 questions, 1 hidden field, 2 consents" in evidence(found)


def test_lgf_103_fails_for_a_form_whose_fields_were_not_read():
    form = factories.lead_form(factories.owner(connected()))
    form.versions.all().delete()
    assert line("LGF-103")["status"] == "fail"


def test_lgf_104_shows_the_custom_crm_fields_the_mapping_uses():
    integ = integration_below(connected())
    custom = factories.crm_field(integ.crm_connection, system_name="track_abc", label="Track")
    factories.field_mapping(integ, crm_field=custom.system_name)
    factories.field_mapping(integ, crm_field="firstName")
    factories.field_mapping(integ, crm_field="")
    found = line("LGF-104")
    assert found["status"] == "pass"
    assert "2 of 3 sources mapped, 1 to CRM custom fields: Track (track_abc)" in evidence(found)


def test_lgf_104_is_ready_without_integration_and_fails_when_a_live_one_maps_nothing():
    form = factories.lead_form(factories.owner(connected()))
    found = line("LGF-104")
    assert found["status"] == "ready" and f"leadsync enable {form.linkedin_id}" in found["how_to_demonstrate"]
    integ = factories.integration(form=form)
    factories.field_mapping(integ, crm_field="")
    assert line("LGF-104")["status"] == "fail"


def test_lgf_105_counts_stored_leads_and_fails_while_the_last_run_failed():
    integ = integration_below(connected())
    assert line("LGF-105")["status"] == "ready"
    factories.lead(integ, state=Lead.State.SYNCED)
    factories.lead(integ, state=Lead.State.FAILED)
    found = line("LGF-105")
    assert found["status"] == "pass" and "2 leads stored (1 synced, 1 failed)" in evidence(found)

    factories.sync_run(integ, state=SyncRun.State.SUCCEEDED, finished_at=NOW - timedelta(hours=2))
    factories.sync_run(integ, state=SyncRun.State.FAILED, finished_at=NOW - timedelta(hours=1),
                       error="LinkedIn connection alex needs re-authorisation")
    found = line("LGF-105")
    assert found["status"] == "fail" and "needs re-authorisation" in evidence(found)

    factories.sync_run(integ, state=SyncRun.State.SUCCEEDED, finished_at=NOW)
    assert line("LGF-105")["status"] == "pass"


def test_lgf_106_shows_an_event_lead_from_linkedin_to_the_crm():
    integ = integration_below(connected())
    factories.lead(integ, linkedin_id="resp-sponsored", lead_type="SPONSORED", state=Lead.State.SYNCED, crm_id="1")
    factories.lead(integ, linkedin_id="resp-event-1", lead_type="EVENT", state=Lead.State.SYNCED, crm_id="3944",
                   associated_entity_urn="urn:li:event:1", synced_at=NOW)
    found = line("LGF-106")
    assert found["status"] == "pass"
    text = evidence(found)
    assert "resp-event-1" in text and "3944" in text and "Summit" in text and "submitted" in text
    assert "resp-sponsored" not in text


def test_lgf_106_fails_when_event_leads_only_failed_and_is_ready_before_any():
    integ = integration_below(connected())
    assert line("LGF-106")["status"] == "ready"
    factories.lead(integ, lead_type="EVENT", state=Lead.State.FAILED, last_error="invalid parameters")
    found = line("LGF-106")
    assert found["status"] == "fail" and "invalid parameters" in evidence(found)


def test_lgf_107_passes_with_a_backfill_and_its_window_in_days():
    integ = integration_below(connected())
    assert line("LGF-107")["status"] == "ready"
    factories.sync_run(integ, trigger=SyncRun.Trigger.MANUAL, state=SyncRun.State.SUCCEEDED)
    assert line("LGF-107")["status"] == "ready"  # a manual pull from the watermark is no backfill
    factories.sync_run(integ, trigger=SyncRun.Trigger.BACKFILL, state=SyncRun.State.SUCCEEDED, pulled=40, new=12,
                       window_start=NOW - timedelta(days=30), window_end=NOW, finished_at=NOW)
    found = line("LGF-107")
    assert found["status"] == "pass"
    assert "(30 days)" in evidence(found) and "pulled 40 (12 new)" in evidence(found)


def test_lgf_107_fails_when_every_backfill_failed():
    integ = integration_below(connected())
    factories.sync_run(integ, trigger=SyncRun.Trigger.BACKFILL, state=SyncRun.State.FAILED, error="CRM unreachable",
                       window_start=NOW - timedelta(days=7), window_end=NOW)
    found = line("LGF-107")
    assert found["status"] == "fail" and "CRM unreachable" in evidence(found)


def test_lgf_108_is_ready_with_the_commands_for_a_live_integration():
    integ = integration_below(connected())
    found = line("LGF-108")
    form_id = integ.form.linkedin_id
    assert found["status"] == "ready"
    assert f"leadsync teardown {form_id}" in found["how_to_demonstrate"]
    assert f"leadsync recreate {form_id}" in found["how_to_demonstrate"]


def test_lgf_108_passes_for_a_torn_down_integration_that_kept_its_data():
    integ = integration_below(connected(), state=Integration.State.TORN_DOWN, torn_down_at=NOW - timedelta(hours=1))
    factories.field_mapping(integ)
    factories.lead(integ, state=Lead.State.SYNCED)
    found = line("LGF-108")
    assert found["status"] == "pass"
    assert "torn down" in evidence(found) and "1 mapping row and 1 stored lead kept" in evidence(found)


def test_lgf_108_fails_when_a_teardown_left_subscriptions_behind():
    integration_below(connected(), state=Integration.State.TORN_DOWN, torn_down_at=NOW, webhook_subscriptions=[42])
    found = line("LGF-108")
    assert found["status"] == "fail" and "42" in evidence(found)


def test_lgf_109_passes_for_a_lead_synced_although_a_field_failed():
    integ = integration_below(connected())
    outcomes = [
        {"source_kind": "question", "source_key": "1", "crm_field": "firstName", "status": "ok", "message": ""},
        {"source_kind": "question", "source_key": "7", "crm_field": "title", "status": "truncated",
         "message": "truncated from 400 to 255 characters"},
    ]
    factories.lead(integ, linkedin_id="resp-long", state=Lead.State.SYNCED, crm_id="55", field_outcomes=outcomes)
    found = line("LGF-109")
    assert found["status"] == "pass"
    assert "resp-long" in evidence(found) and "truncated from 400 to 255" in evidence(found)


def test_lgf_109_ignores_field_errors_of_leads_that_did_not_sync():
    integ = integration_below(connected())
    factories.lead(integ, state=Lead.State.FAILED, field_outcomes=[{"source_key": "2", "status": "error", "message": "x"}])
    # "error" in a message of an ok field is not a field failure
    factories.lead(integ, state=Lead.State.SYNCED,
                   field_outcomes=[{"source_key": "1", "status": "ok", "message": "no error"}])
    assert line("LGF-109")["status"] == "ready"


def test_lgf_110_passes_for_a_run_where_some_leads_failed_and_others_were_created():
    integ = integration_below(connected())
    factories.sync_run(integ, state=SyncRun.State.SUCCEEDED, created=5, failed=0)
    assert line("LGF-110")["status"] == "ready"
    factories.sync_run(integ, state=SyncRun.State.SUCCEEDED, created=4, failed=1, finished_at=NOW)
    factories.lead(integ, linkedin_id="resp-rejected", state=Lead.State.FAILED, last_error="205: invalid parameters")
    found = line("LGF-110")
    assert found["status"] == "pass"
    assert "created 4" in evidence(found) and "failed 1" in evidence(found) and "resp-rejected" in evidence(found)


def test_lgf_110_passes_for_failed_leads_alongside_synced_ones_without_such_a_run():
    integ = integration_below(connected())
    factories.lead(integ, state=Lead.State.SYNCED)
    factories.lead(integ, state=Lead.State.FAILED)
    found = line("LGF-110")
    assert found["status"] == "pass" and "1 lead synced alongside 1 failed" in evidence(found)


# --- one connection -------------------------------------------------------------------------------

def test_a_connection_restricts_the_report_to_what_hangs_below_it():
    alex, blake = connected(name="alex", discovered_at=NOW), connected(name="blake", discovered_at=NOW)
    mine = integration_below(alex, org_name="Acme", form_name="Acme form")
    theirs = integration_below(blake, org_name="Globex", form_name="Globex form")
    factories.lead(mine, linkedin_id="resp-mine", state=Lead.State.SYNCED, crm_id="1")
    factories.lead(theirs, linkedin_id="resp-theirs", state=Lead.State.SYNCED, crm_id="2")
    factories.sync_run(theirs, trigger=SyncRun.Trigger.BACKFILL, state=SyncRun.State.SUCCEEDED,
                       window_start=NOW - timedelta(days=1), window_end=NOW)

    report = signoff_report(connection=alex, now=NOW)
    text = json.dumps(report, ensure_ascii=False)
    assert report["connection"] == "alex"
    assert "Acme" in text and "resp-mine" in text
    assert "blake" not in text and "Globex" not in text and "resp-theirs" not in text
    by_id = {line["id"]: line for line in report["lines"]}
    assert by_id["LGF-107"]["status"] == "ready"  # the backfill was blake's
    assert "1 lead stored" in evidence(by_id["LGF-105"])


# --- output ---------------------------------------------------------------------------------------

def test_the_html_page_escapes_names_from_linkedin():
    integration_below(connected(name="alex"), form_name="<script>alert('x')</script>", org_name="A & B")
    page = signoff_html(signoff_report(now=NOW))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "A &amp; B" in page
    assert '<tr class="pass">' in page and "LGF-110" in page
    assert "<code>leadsync discover [NAME]</code>" in page  # commands in the how-to show as code
    assert "<link" not in page and "src=" not in page  # self-contained


def test_no_token_or_secret_appears_in_any_output():
    connection = connected(name="alex", access_token="AQV-signoff-secret-access",
                           refresh_token="AQW-signoff-secret-refresh", status=LinkedInConnection.Status.NEEDS_REAUTH,
                           last_error="LinkedIn refused the refresh token (revoked): connect the account again.")
    crm = factories.crm_connection(secret_key="CRM-signoff-secret-key")
    integ = integration_below(connection, crm=crm)
    factories.lead(integ, lead_type="EVENT", state=Lead.State.SYNCED, crm_id="9")
    report = signoff_report(now=NOW)
    for output in (json.dumps(report), signoff_text(report), signoff_html(report)):
        assert "signoff-secret" not in output


def test_the_text_lists_each_line_with_its_status_and_indented_evidence():
    connected(name="alex")
    text = signoff_text(signoff_report(now=NOW))
    assert "LGF-001  pass   Demonstrate OAuth 2.0 integration" in text
    assert "\n         alex: " in text
    assert "LGF-110  ready  " in text


# --- the CLI handler --------------------------------------------------------------------------------

def test_cli_signoff_emits_the_report_and_succeeds_even_with_fails():
    connected(name="alex", status=LinkedInConnection.Status.NEEDS_REAUTH, last_error="revoked")
    command = StandInCommand()
    assert cli_signoff(command, {"connection": None, "html": None, "json": True}) is True
    assert command.data["ok"] is True and command.data["summary"]["fail"] >= 1
    assert command.text.startswith("LinkedIn sign-off checklist")


def test_cli_signoff_restricts_to_a_named_connection_and_refuses_an_unknown_one():
    connected(name="alex")
    connected(name="blake")
    command = StandInCommand()
    cli_signoff(command, {"connection": "alex", "html": None})
    assert command.data["connection"] == "alex"
    with pytest.raises(CommandError) as exc:
        cli_signoff(StandInCommand(), {"connection": "nobody", "html": None})
    assert exc.value.returncode == 2 and "nobody" in str(exc.value)


def test_cli_signoff_writes_the_html_file_and_says_where(tmp_path):
    integration_below(connected(name="alex"))
    target = tmp_path / "signoff.html"
    command = StandInCommand()
    cli_signoff(command, {"connection": None, "html": str(target)})
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert command.data["html"] == str(target.resolve())
    assert str(target.resolve()) in command.text


@pytest.mark.parametrize("where", ["missing-dir/signoff.html", "."])
def test_cli_signoff_refuses_an_html_path_it_cannot_write_to(tmp_path, where):
    command = StandInCommand()
    with pytest.raises(CommandError) as exc:
        cli_signoff(command, {"connection": None, "html": str(tmp_path / where)})
    assert exc.value.returncode == 2 and command.data is None


def test_cli_signoff_prints_json_through_the_real_command_output():
    connected(name="alex")
    out = StringIO()
    command = Command(stdout=out, stderr=StringIO())
    command.as_json = True
    cli_signoff(command, {"connection": "alex", "html": None})
    data = json.loads(out.getvalue())
    assert data["ok"] is True and data["connection"] == "alex" and len(data["lines"]) == len(CHECKLIST)


def test_leadsync_signoff_json_through_the_management_command():
    connected(name="alex")
    out = StringIO()
    call_command("leadsync", "signoff", "--json", stdout=out, stderr=StringIO())
    data = json.loads(out.getvalue())
    assert data["ok"] is True and len(data["lines"]) == len(CHECKLIST)
