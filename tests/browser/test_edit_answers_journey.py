"""In a real browser: a Lead reviewer corrects the e-mail address the CRM refused ("Edit the
answers"), saves and retries, and the lead reaches the CRM with the corrected address; its history
shows the pull, both pushes, the edit and the retry, in order."""

import pytest
from playwright.sync_api import expect

from sandbox.crm.models import CrmLead
from tests.browser.test_review_journey import failed_lead, reviewer_page  # noqa: F401 - fixtures
from tests.e2e.conftest import cli, crm_account, event_integration, linkedin_tokens, sandbox  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_fixes_a_refused_e_mail_and_retries_the_lead(reviewer_page, failed_lead, live_server, eager,  # noqa: F811
                                                                 tmp_path):
    page = reviewer_page
    typo, raw = failed_lead.email, failed_lead.raw
    page.goto(f"{live_server.url}/admin/leads/lead/{failed_lead.pk}/change/")
    page.get_by_role("link", name="Edit the answers").click()
    expect(page.locator("#edit-answers-help")).to_contain_text("a synced lead is already in the CRM")
    email_box = page.locator("#edit-answers-form .form-row", has_text="(EMAIL)").locator("input")
    expect(email_box).to_have_value(typo)

    email_box.fill("not an address")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote")).to_contain_text("The answers were not changed")
    failed_lead.refresh_from_db()
    assert failed_lead.email == typo

    fixed = "fixed." + typo
    email_box.fill(fixed)
    page.screenshot(path=tmp_path / "edit-answers.png", full_page=True)
    page.get_by_role("button", name="Save and retry").click()
    expect(page.locator(".messagelist")).to_contain_text("Changed 1 answer(s)")
    expect(page.locator(".messagelist")).to_contain_text("Queued a retry of 1 failed lead(s)")

    failed_lead.refresh_from_db()
    assert failed_lead.state == "synced" and failed_lead.email == fixed and failed_lead.raw == raw
    assert CrmLead.objects.filter(email_lower=fixed.lower()).count() == 1
    page.reload()
    kinds = page.locator("#lead-history tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["pulled", "push", "push", "edited", "retried", "push"], kinds
    expect(page.locator("#lead-history tr[data-kind=edited]")).to_contain_text(f"{typo} → {fixed}")
    expect(page.locator("#lead-history tr[data-kind=edited]")).to_contain_text("rita-reviewer")
    page.screenshot(path=tmp_path / "lead-history.png", full_page=True)
