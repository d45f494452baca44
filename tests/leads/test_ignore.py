"""Ignoring leads: a reviewer sets failed or pending leads aside with a reason (kept with who and
when), in the admin through an intermediate page or with `leadsync ignore`, and takes them back
(failed again) with "Un-ignore" or `leadsync unignore`. An ignored lead is never pushed or retried
and is no longer counted as waiting: not on the dashboard, the banners, `leadsync status`, the
sign-off or the report, which count it on its own."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from leads import health
from leads.dashboard import dashboard
from leads.models import Lead
from leads.ops import report
from leads.pipeline import sync as pipeline_sync
from leads.pipeline.locks import integration_locked
from leads.pipeline.push import PushCounts
from leads.review import leads_ignore
from tests import factories
from tests.e2e.conftest import run_cli
from tests.leads.test_signoff import connected, integration_below, line

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:leads_lead_changelist")


@pytest.fixture(autouse=True)
def fresh_health():
    from django.core.cache import cache

    cache.delete(health.CACHE_KEY)
    yield
    cache.delete(health.CACHE_KEY)


@pytest.fixture
def integration():
    return factories.integration()


def failed(integration, **kw):
    return factories.lead(integration, state="failed", error_code="205", last_error="CRM error 205: Invalid", **kw)


def act(client, action, leads, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [lead.pk for lead in leads], **extra},
                       follow=True)


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the admin ------------------------------------------------------------------------------------

def test_a_reviewer_ignores_failed_and_pending_leads_with_a_reason_and_others_are_left_alone(reviewer, integration):
    lost, waiting = failed(integration), factories.lead(integration, state="pending")
    done = factories.lead(integration, state="synced", crm_id="9")

    page = act(reviewer, "ignore", [lost, waiting, done])

    assert page.status_code == 200 and 'id="ignore-form"' in page.content.decode()
    assert "2 of the 3 selected leads can be ignored" in page.content.decode()
    assert not Lead.objects.filter(state="ignored").exists(), "the first post only asks why"

    response = act(reviewer, "ignore", [lost, waiting, done], reason="  Test registration by our own staff ")

    assert response.redirect_chain and response.redirect_chain[-1][0].startswith(CHANGELIST)
    for lead in (lost, waiting):
        lead.refresh_from_db()
        assert lead.state == "ignored" and lead.ignored_reason == "Test registration by our own staff"
        assert lead.ignored_by == "rita" and abs(lead.ignored_at - timezone.now()) < timedelta(minutes=1)
    done.refresh_from_db()
    assert done.state == "synced" and not done.ignored_reason
    messages = said(response)
    assert any(m.startswith("Ignored 2 lead(s)") for m in messages)
    assert any("Left 1 lead(s) alone (1 synced)" in m for m in messages)


def test_ignoring_without_a_reason_asks_again_and_changes_nothing(reviewer, integration):
    lead = failed(integration)

    page = act(reviewer, "ignore", [lead], reason="   ")

    assert page.status_code == 200 and "This field is required" in page.content.decode()
    lead.refresh_from_db()
    assert lead.state == "failed" and lead.ignored_at is None


def test_un_ignore_makes_ignored_leads_failed_again_and_leaves_the_others(reviewer, integration):
    lead, other = failed(integration), factories.lead(integration, state="synced")
    leads_ignore(leads=Lead.objects.filter(pk=lead.pk), reason="duplicate", by="rita")

    response = act(reviewer, "unignore", [lead, other])

    lead.refresh_from_db()
    assert lead.state == "failed" and lead.error_code == "205" and lead.last_error == "CRM error 205: Invalid"
    assert (lead.ignored_reason, lead.ignored_by, lead.ignored_at) == ("", "", None)
    assert any(m.startswith("Un-ignored 1 lead(s)") for m in said(response))
    assert any("only ignored leads can be un-ignored" in m for m in said(response))


def test_staff_who_may_only_view_leads_are_not_offered_ignore(client, django_user_model, integration):
    viewer = django_user_model.objects.create_user("vic", password="pw-vic-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_lead", content_type__app_label="leads"))
    client.force_login(viewer)
    lead = failed(integration)

    html = client.get(CHANGELIST).content.decode()
    assert 'value="ignore"' not in html and 'value="unignore"' not in html
    act(client, "ignore", [lead], reason="nope")
    lead.refresh_from_db()
    assert lead.state == "failed"


def test_an_ignored_lead_shows_why_who_and_when_on_its_page_as_a_badge_in_the_list(reviewer, integration):
    lead = failed(integration)
    leads_ignore(leads=Lead.objects.filter(pk=lead.pk), reason="spam <b>sign-up</b>", by="rita")

    html = reviewer.get(reverse("admin:leads_lead_change", args=[lead.pk])).content.decode()
    assert "Ignored by rita" in html and "spam &lt;b&gt;sign-up&lt;/b&gt;" in html
    assert "Retry this lead" not in html
    listing = reviewer.get(CHANGELIST).content.decode()
    assert 'class="leadsync-badge leadsync-badge-muted"' in listing and ">Ignored</span>" in listing


def test_a_pending_lead_a_sync_is_pushing_is_left_alone(integration):
    lead = factories.lead(integration, state="pending")
    with integration_locked(integration=integration):
        result = leads_ignore(leads=Lead.objects.filter(pk=lead.pk), reason="dup", by="rita")
    lead.refresh_from_db()
    assert result.busy == [lead.linkedin_id] and not result.done and lead.state == "pending"


def test_a_failed_lead_is_ignored_even_while_a_sync_runs(integration):
    lead = failed(integration)
    with integration_locked(integration=integration):
        result = leads_ignore(leads=Lead.objects.filter(pk=lead.pk), reason="dup", by="rita")
    assert result.done == [lead.linkedin_id]


# --- the CLI --------------------------------------------------------------------------------------

def test_the_cli_ignores_and_unignores_by_linkedin_id_as_cli(integration):
    a, b = failed(integration), factories.lead(integration, state="synced")

    result = run_cli("ignore", a.linkedin_id, b.linkedin_id, "--reason", "internal test", "--json")

    assert result.code == 0, result.err
    assert result.json["ignored"] == [a.linkedin_id] and result.json["left"] == {b.linkedin_id: "synced"}
    a.refresh_from_db()
    assert a.state == "ignored" and a.ignored_by == "cli" and a.ignored_reason == "internal test"

    result = run_cli("unignore", a.linkedin_id, "--json")

    assert result.code == 0 and result.json["unignored"] == [a.linkedin_id]
    a.refresh_from_db()
    assert a.state == "failed" and not a.ignored_by


def test_the_cli_refuses_bad_usage_and_changes_nothing(integration):
    lead = failed(integration)
    assert run_cli("ignore", lead.linkedin_id, "--reason", "  ").code == 2
    unknown = run_cli("ignore", lead.linkedin_id, "no-such-lead", "--reason", "dup")
    assert unknown.code == 2 and "no-such-lead" in unknown.err
    lead.refresh_from_db()
    assert lead.state == "failed"


def test_the_cli_exits_1_when_no_lead_could_be_ignored(integration):
    lead = factories.lead(integration, state="synced")
    result = run_cli("ignore", lead.linkedin_id, "--reason", "dup", "--json")
    assert result.code == 1 and result.json["ok"] is False and result.json["left"] == {lead.linkedin_id: "synced"}


# --- never pushed, never counted as waiting -------------------------------------------------------

@pytest.fixture
def pushed(monkeypatch):
    """The push of a retry replaced by one that syncs what it is given and records which leads."""
    seen = []

    def push(*, integration, leads_qs=None, run=None, **kw):
        leads = list(leads_qs if leads_qs is not None else integration.leads.filter(state="pending"))
        seen.extend(lead.linkedin_id for lead in leads)
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(state="synced")
        if run is not None:
            run.progress_total = len(leads)
        return PushCounts(updated=len(leads))

    monkeypatch.setattr(pipeline_sync, "leads_push", push)
    return seen


def test_retry_failed_never_retries_an_ignored_lead(integration, pushed):
    kept, ignored = failed(integration), failed(integration)
    leads_ignore(leads=Lead.objects.filter(pk=ignored.pk), reason="dup", by="rita")

    pipeline_sync.leads_retry_failed(integration=integration)

    assert pushed == [kept.linkedin_id]
    assert Lead.objects.get(pk=ignored.pk).state == "ignored"


def test_the_push_never_takes_an_ignored_lead(integration):
    from leads.pipeline.push import PendingPush

    pending, ignored = factories.lead(integration, state="pending"), factories.lead(integration, state="pending")
    leads_ignore(leads=Lead.objects.filter(pk=ignored.pk), reason="dup", by="rita")

    assert list(PendingPush(integration=integration)._remaining()) == [pending]


def test_the_dashboard_and_the_banner_count_ignored_leads_apart(reviewer, integration):
    failed(integration)
    ignored = failed(integration)
    leads_ignore(leads=Lead.objects.filter(pk=ignored.pk), reason="dup", by="rita")

    d = dashboard(use_cache=False)
    assert d["failed_total"] == 1 and d["ignored_total"] == 1
    [row] = [i for i in d["integrations"] if i["pk"] == integration.pk]
    assert row["failed"] == 1
    html = reviewer.get(CHANGELIST).content.decode()
    assert "1 failed lead waits for review" in html


def test_status_counts_ignored_leads_on_their_own(integration):
    failed(integration)
    leads_ignore(leads=Lead.objects.filter(pk=failed(integration).pk), reason="dup", by="rita")

    result = run_cli("status", "--json")
    assert result.json["leads"]["failed"] == 1 and result.json["leads"]["ignored"] == 1
    assert "1 failed, 0 pending, 1 ignored" in run_cli("status").out


def test_the_signoff_does_not_fail_for_event_leads_staff_ignored():
    integ = integration_below(connected())
    lead = factories.lead(integ, lead_type="EVENT", state=Lead.State.FAILED, last_error="invalid parameters")
    assert line("LGF-106")["status"] == "fail"

    leads_ignore(leads=Lead.objects.filter(pk=lead.pk), reason="a test registration", by="rita")

    assert line("LGF-106")["status"] == "ready"
    assert "1 ignored" in "\n".join(line("LGF-105")["evidence"])


def test_the_report_counts_ignored_leads_apart_from_failed(integration):
    failed(integration)
    leads_ignore(leads=Lead.objects.filter(pk=failed(integration).pk), reason="dup", by="rita")

    result = report.funnel_report(crm_reader=lambda **kw: {})

    assert result["totals"]["failed"] == 1 and result["totals"]["ignored"] == 1 and result["totals"]["leads"] == 2
    assert "ignored" in report.funnel_report_text(result)


def test_erasing_the_person_clears_what_staff_wrote_about_an_ignored_lead(integration):
    from leads.people import person_erase

    lead = failed(integration, email="ana@example.com")
    leads_ignore(leads=Lead.objects.filter(pk=lead.pk), reason="Ana Lopez signed up twice", by="rita")

    person_erase(email="ana@example.com", via="cli", requested_by="cli")

    lead.refresh_from_db()
    assert lead.state == "deleted" and lead.ignored_reason == ""
