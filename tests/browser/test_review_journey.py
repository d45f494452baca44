"""The staff journey in a real browser: a lead the CRM refused (error 205, a company name mapped to
a number field) → a Lead reviewer finds it, sees why, fixes the mapping row through the FieldMapping
list (reviewers may change mappings, not integrations) and retries it → the lead reaches the CRM.

LinkedIn and the CRM are the sandbox over the live server (the e2e fixtures), the retry runs on an
eager Celery, so the click does the work before the page answers."""

import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from mappings.models import FieldMapping
from sandbox.crm.models import CrmLead
from tests.browser.conftest import log_in_as_group_member
from tests.e2e.conftest import (  # noqa: F401 - fixtures: the product connected to the sandbox
    cli,
    crm_account,
    event_integration,
    linkedin_tokens,
    run_cli,
    sandbox,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REVIEWER, REVIEWER_PASSWORD = "rita-reviewer", "rita-password-123"


@pytest.fixture
def failed_lead(event_integration):
    """Someone deleted a custom field in the CRM after LeadSync read its catalogue: the mapping
    engine cannot know, and the CRM refuses every lead that carries the field (205)."""
    from sandbox.crm.models import CrmField as SandboxCrmField

    row = (FieldMapping.objects.filter(integration=event_integration, source_kind="question",
                                       crm_field__in=event_integration.crm_connection.fields.filter(is_custom=True)
                                       .values("system_name")).order_by("position").first())
    SandboxCrmField.objects.filter(system_name=row.crm_field).delete()
    assert run_cli("sync", event_integration.form.linkedin_id, "--days", "90").code == 0
    lead = Lead.objects.filter(integration=event_integration, state="failed").order_by("-submitted_at").first()
    assert lead is not None and "205" in lead.last_error
    lead.bad_row = row
    return lead


@pytest.fixture
def reviewer_page(page, live_server, django_user_model):
    """A page logged in, through the real login form, as staff in the "Lead reviewers" group."""
    return log_in_as_group_member(page, live_server, django_user_model, username=REVIEWER, password=REVIEWER_PASSWORD,
                                  group="Lead reviewers", migration="0003_lead_reviewers_group")


def test_a_reviewer_finds_a_failed_lead_fixes_the_mapping_and_retries_it(
    reviewer_page, failed_lead, live_server, eager, tmp_path
):
    page = reviewer_page
    page.get_by_role("link", name="Leads", exact=True).click()
    page.locator("#changelist-filter").get_by_role("link", name="Failed").click()
    expect(page).to_have_url(re.compile(r"state__exact=failed"))
    page.get_by_role("link", name=failed_lead.email, exact=True).click()

    # Why: the CRM's answer, the outcome of each field, and the field the CRM cannot take.
    expect(page.locator("#lead-problem")).to_contain_text("CRM error 205")
    outcomes = page.locator("#field-outcomes")
    expect(outcomes.locator("tr", has_text=failed_lead.bad_row.source_label)).to_contain_text(failed_lead.bad_row.crm_field)
    expect(page.locator("#raw-payload")).not_to_have_attribute("open", "")
    page.screenshot(path=tmp_path / "failed-lead.png", full_page=True)

    # The fix, in the integration's mapping (the FieldMapping list, filtered to it).
    page.get_by_role("link", name="Edit the mapping").click()
    editor = rf"/admin/mappings/fieldmapping/\?integration__id__exact={failed_lead.integration_id}$"
    expect(page).to_have_url(re.compile(editor))
    row = page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=failed_lead.bad_row.source_label, exact=True))
    row.locator("select[name$='-crm_field']").select_option(label="— not synced —")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert FieldMapping.objects.get(pk=failed_lead.bad_row.pk).crm_field == ""

    # The retry, from the list of failed leads.
    page.goto(f"{live_server.url}/admin/leads/lead/?state__exact=failed")
    page.locator("#result_list tr", has_text=failed_lead.email).locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Retry the selected failed leads")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Queued a retry of 1 failed lead(s)")

    failed_lead.refresh_from_db()
    assert failed_lead.state == "synced" and failed_lead.crm_id and not failed_lead.last_error
    assert CrmLead.objects.filter(email_lower=failed_lead.email.lower()).count() == 1
    page.goto(f"{live_server.url}/admin/leads/lead/{failed_lead.pk}/change/")
    expect(page.locator(".field-state .readonly")).to_have_text("Synced")
    expect(page.locator("#lead-problem")).to_have_count(0)
    expect(page.locator("#field-outcomes tr", has_text=failed_lead.bad_row.source_label)).to_contain_text("unmapped")
    page.screenshot(path=tmp_path / "synced-lead.png", full_page=True)
