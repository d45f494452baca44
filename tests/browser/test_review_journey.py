"""The staff journey in a real browser: a lead the CRM refused as a whole (error 205 on its
e-mail, the only field the CRM requires: a field it refuses elsewhere is left out and the lead
synced, LGF-109) → a Lead reviewer finds it, sees why and that every field was mapped, the cause is
cleared in the CRM, the reviewer retries it → the lead reaches the CRM.

LinkedIn and the CRM are the sandbox over the live server (the e2e fixtures), the retry runs on an
eager Celery, so the click does the work before the page answers."""

import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead
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
    """The CRM has a rule refusing one person's e-mail address (205, naming emailAddress): that
    lead cannot be sent without its e-mail, so it fails and waits for staff."""
    from tests.e2e.conftest import crm_fault

    assert run_cli("sync", event_integration.form.linkedin_id, "--days", "90").code == 0
    lead = Lead.objects.filter(integration=event_integration, state="synced").order_by("-submitted_at").first()
    CrmLead.objects.filter(email_lower=lead.email.lower()).delete()
    Lead.objects.filter(pk=lead.pk).update(state="pending", crm_id="")
    crm_fault(reject_email=f"^{re.escape(lead.email)}$", reject_code=205, reject_message="Invalid parameters")
    assert run_cli("sync", event_integration.form.linkedin_id).code == 0
    lead.refresh_from_db()
    assert lead.state == "failed" and "205" in lead.last_error and "emailAddress" in lead.last_error
    return lead


@pytest.fixture
def reviewer_page(page, live_server, django_user_model):
    """A page logged in, through the real login form, as staff in the "Lead reviewers" group."""
    return log_in_as_group_member(page, live_server, django_user_model, username=REVIEWER, password=REVIEWER_PASSWORD,
                                  group="Lead reviewers", migration="0003_lead_reviewers_group")


def test_a_reviewer_finds_a_failed_lead_sees_why_and_retries_it_once_the_cause_is_fixed(
    reviewer_page, failed_lead, live_server, eager, tmp_path
):
    page = reviewer_page
    page.get_by_role("link", name="Leads", exact=True).click()
    page.locator("#changelist-filter").get_by_role("link", name="Failed").click()
    expect(page).to_have_url(re.compile(r"state__exact=failed"))
    page.get_by_role("link", name=failed_lead.email, exact=True).click()

    # Why: the CRM's answer, naming the e-mail; every field's outcome, and the attempt on record.
    expect(page.locator("#lead-problem")).to_contain_text("CRM error 205")
    expect(page.locator("#lead-problem")).to_contain_text("emailAddress")
    expect(page.locator("#field-outcomes")).to_contain_text("emailAddress")
    expect(page.locator("#push-attempts")).to_contain_text("Failed: waits for staff")
    expect(page.locator("#raw-payload")).not_to_have_attribute("open", "")
    page.screenshot(path=tmp_path / "failed-lead.png", full_page=True)

    # The cause is cleared where it is: the CRM's rule goes.
    from tests.e2e.conftest import crm_fault
    crm_fault(reset=True)

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
    expect(page.locator("#push-attempts tr").last).to_contain_text("Synced")
    page.screenshot(path=tmp_path / "synced-lead.png", full_page=True)
