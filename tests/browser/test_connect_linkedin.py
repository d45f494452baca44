"""LGF-001 in a real browser: an admin presses "Connect LinkedIn account", answers LinkedIn's (the
sandbox's) consent page and lands back in the admin."""

import re

import pytest
from playwright.sync_api import expect

from connectors.models import LinkedInConnection

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def open_consent_page(page, live_server):
    page.goto(f"{live_server.url}/admin/connectors/linkedinconnection/")
    page.get_by_role("link", name="Connect LinkedIn account").click()
    expect(page).to_have_url(re.compile(re.escape(f"{live_server.url}/sandbox/linkedin/oauth/v2/authorization?")))
    expect(page.get_by_role("heading")).to_contain_text("would like to access your LinkedIn account")


def test_connect_button_leads_through_consent_to_the_new_connection(admin_page, sandbox, tmp_path):
    page = admin_page
    open_consent_page(page, sandbox)

    page.get_by_role("button", name="Allow").click()

    expect(page).to_have_url(re.compile(r"/admin/connectors/linkedinconnection/\d+/change/$"))
    expect(page.locator(".messagelist .success")).to_contain_text("Connected the LinkedIn account of Alex Admin")
    expect(page.locator(".field-member_name .readonly")).to_have_text("Alex Admin")
    expect(page.locator(".field-status .readonly")).to_have_text("Active")
    page.screenshot(path=tmp_path / "connected.png", full_page=True)
    assert (tmp_path / "connected.png").stat().st_size > 0

    connection = LinkedInConnection.objects.get()
    assert connection.member_name == "Alex Admin" and connection.access_token
    assert connection.access_token not in page.content()


def test_cancelling_consent_returns_to_the_list_and_changes_nothing(admin_page, sandbox, tmp_path):
    page = admin_page
    open_consent_page(page, sandbox)

    page.get_by_role("button", name="Cancel").click()

    expect(page).to_have_url(f"{sandbox.url}/admin/connectors/linkedinconnection/")
    expect(page.locator(".messagelist")).to_contain_text("LinkedIn consent was cancelled; nothing was changed.")
    page.screenshot(path=tmp_path / "cancelled.png", full_page=True)
    assert not LinkedInConnection.objects.exists()
