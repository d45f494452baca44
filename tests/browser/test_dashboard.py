"""The dashboard in a real browser: its figures show, and every number on it is a link to the
filtered list behind it, which lists exactly that many rows."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from playwright.sync_api import expect

from connectors.models import CrmConnection
from leads.models import Lead, LeadAttempt, LeadNotification
from mappings.models import Integration
from tests import factories
from tests.browser.screenshots import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stored():
    """Two integrations with leads of every age and state, one mapping to review, notifications
    waiting, and runs with outcomes for the charts."""
    now = timezone.now()
    a = factories.integration(name="Webinar signups")
    b = factories.integration(name="Trade fair", mapping_review={"version": 2, "added": ["jobTitle"]})
    factories.integration(name="Last year's fair", state="torn_down")  # not live: not counted as live
    ages = {a: ((0, "synced"), (0, "failed"), (2, "synced"), (5, "ignored"), (12, "failed"), (45, "synced")),
            b: ((0, "failed"), (1, "synced"), (20, "synced"))}
    for integ, spec in ages.items():
        for days, state in spec:
            factories.lead(integ, submitted_at=now - timedelta(days=days, minutes=1), state=state)
    every_15, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.MINUTES)
    for integ, minutes_ago in ((a, 4), (b, 11)):
        task = PeriodicTask.objects.create(name=f"sync {integ.pk}", task="leads.sync_integration", interval=every_15)
        PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=now - timedelta(minutes=minutes_ago))
        Integration.objects.filter(pk=integ.pk).update(periodic_task=task)
        CrmConnection.objects.filter(integrations=integ).update(
            status="active", last_checked_at=now - timedelta(minutes=minutes_ago),
            fields_loaded_at=now - timedelta(days=2))
    refused = Lead.objects.filter(integration=a, state="failed").first()
    LeadAttempt.objects.create(lead=refused, at=now - timedelta(hours=1), number=1, outcome="failed", error_code="205")
    for n in range(2):
        LeadNotification.objects.create(lead_urn=f"urn:li:leadGenFormResponse:n{n}", lead_id=f"n{n}",
                                        action="CREATED", payload={})
    for days, created, failed in ((0, 3, 1), (3, 5, 0), (8, 2, 2)):
        run = factories.sync_run(a, state="succeeded", created=created, failed=failed, skipped=1)
        type(run).objects.filter(pk=run.pk).update(created_at=now - timedelta(days=days))
    return a, b


def figures(page):
    """(text, href) of every number on the dashboard."""
    return page.locator("#leadsync-dashboard a").evaluate_all(
        "links => links.filter(a => /^\\s*\\d+\\s*$/.test(a.textContent))"
        ".map(a => [a.textContent.trim(), a.getAttribute('href')])")


def test_every_number_on_the_dashboard_links_to_a_list_of_that_many_rows(admin_page, live_server, stored):
    page = admin_page
    page.goto(f"{live_server.url}/admin/")
    for box in ("#dashboard-figures", "#dashboard-integrations", "#dashboard-connections",
                "#dashboard-crm-connections", "#dashboard-health",
                "#dashboard-chart-leads svg", "#dashboard-chart-outcomes svg"):
        expect(page.locator(box)).to_be_visible()
    expect(page.locator("#figure-failed")).to_have_text(str(Lead.objects.filter(state="failed").count()))
    expect(page.locator("#figure-notifications")).to_have_text("2")
    expect(page.locator("#dashboard-integrations .next-run").first).to_contain_text("in ")
    screenshot(page, "dashboard")

    numbers = figures(page)
    # The five figures; per live integration, today / 7 days / 30 days / failed; per CRM, its integrations.
    assert len(numbers) == 5 + 4 * 2 + 3, numbers
    assert any(n != "0" for n, _ in numbers)
    for number, href in numbers:
        page.goto(f"{live_server.url}{href}")
        expect(page.locator("#result_list tbody tr"), f"{href} lists {number} rows").to_have_count(int(number))
