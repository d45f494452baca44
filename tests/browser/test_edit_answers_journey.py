"""In a real browser: a Lead reviewer starts at the dashboard, follows its "failed" number to the
failed leads, opens the one the CRM refused, corrects the e-mail address ("Edit the answers"), saves
and retries, and the lead reaches the sandbox CRM with the corrected address; its history shows the
pull, both pushes, the edit and the retry, in order. The connections (where the tokens and secrets
live) are neither in the reviewer's menu nor open to a typed URL."""

import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from sandbox.crm.models import CrmLead
from tests.browser.screenshots import screenshot
from tests.browser.test_review_journey import failed_lead, reviewer_page  # noqa: F401 - fixtures
from tests.e2e.conftest import cli, crm_account, event_integration, linkedin_tokens, sandbox  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONNECTION_PAGES = ("/admin/connectors/linkedinconnection/", "/admin/connectors/crmconnection/",
                    "/admin/connectors/linkedinconnection/add/", "/admin/connectors/crmconnection/add/")


def test_a_reviewer_fixes_a_refused_e_mail_and_retries_the_lead(reviewer_page, failed_lead, live_server, eager,  # noqa: F811
                                                                 tmp_path):
    page = reviewer_page
    typo, raw = failed_lead.email, failed_lead.raw

    # The dashboard's "failed" figure is what the database holds, and leads to exactly those leads.
    waiting = Lead.objects.filter(state="failed").count()
    assert waiting >= 1
    page.goto(f"{live_server.url}/admin/")  # logged in before the lead failed
    expect(page.locator("#leadsync-dashboard")).to_be_visible()
    expect(page.locator("#figure-failed")).to_have_text(str(waiting))
    page.locator("#figure-failed").click()
    expect(page).to_have_url(re.compile(r"state__exact=failed"))
    expect(page.locator("#result_list tbody tr")).to_have_count(waiting)
    page.get_by_role("link", name=typo, exact=True).click()
    expect(page.locator("#lead-problem")).to_contain_text("CRM error 205")
    expect(page.locator("#lead-history")).to_be_visible()
    screenshot(page, "failed-lead-review")
    screenshot(page, "failed-lead-history", scroll_to="#push-attempts")

    page.get_by_role("link", name="Edit the answers").click()
    expect(page.locator("#edit-answers-help")).to_contain_text("a synced lead is already in the CRM")
    email_box = page.locator("#edit-answers-form .form-row", has_text="(EMAIL)").locator("input")
    expect(email_box).to_have_value(typo)
    screenshot(page, "failed-lead-edit-answers")

    email_box.fill("not an address")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote")).to_contain_text("The answers were not changed")
    failed_lead.refresh_from_db()
    assert failed_lead.email == typo

    fixed = "fixed." + typo
    email_box.fill(fixed)
    page.get_by_role("button", name="Save and retry").click()
    expect(page.locator(".messagelist")).to_contain_text("Changed 1 answer(s)")
    expect(page.locator(".messagelist")).to_contain_text("Queued a retry of 1 failed lead(s)")

    # In the sandbox CRM: one lead, with the corrected address; the LinkedIn payload untouched.
    failed_lead.refresh_from_db()
    assert failed_lead.state == "synced" and failed_lead.email == fixed and failed_lead.raw == raw
    stored = CrmLead.objects.get(email_lower=fixed.lower())
    assert str(stored.lead_id) == failed_lead.crm_id and stored.data["emailAddress"] == fixed
    assert not CrmLead.objects.filter(email_lower=typo.lower()).exists()
    page.reload()
    expect(page.locator(".field-state .readonly")).to_have_text("Synced")
    kinds = page.locator("#lead-history tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["pulled", "push", "push", "edited", "retried", "push"], kinds
    expect(page.locator("#lead-history tr[data-kind=edited]")).to_contain_text(f"{typo} → {fixed}")
    expect(page.locator("#lead-history tr[data-kind=edited]")).to_contain_text("rita-reviewer")
    page.screenshot(path=tmp_path / "lead-history.png", full_page=True)

    # The connections: not on the home page nor in the menu, and refused when typed.
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#dashboard-connections")).to_have_count(0)
    expect(page.locator("a[href*='/admin/connectors/linkedinconnection/']")).to_have_count(0)
    expect(page.locator("a[href*='/admin/connectors/crmconnection/']")).to_have_count(0)
    for path in CONNECTION_PAGES:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, (path, response.status)
