"""Browser fixtures: headless Debian Chromium driven by Playwright's sync API against the live server.

Chromium is the system package (never `playwright install`): missing, the tests are skipped, unless
LEADSYNC_REQUIRE_SERVICES=1 (set by `make test`), when that is an error. LEADSYNC_SKIP_BROWSER=1,
which also stops scripts/test.sh from installing Chromium, skips them in any case."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ADMIN_USER, ADMIN_PASSWORD = "browser-admin", "browser-password-123"


def _unavailable(message):
    if os.environ.get("LEADSYNC_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(monkeypatch):
    """A fresh Chromium per test. While Playwright's sync API runs, an asyncio event loop counts as
    running in the test thread, so Django would refuse the test's own (plain, synchronous) ORM calls
    as "sync calls from an async context": DJANGO_ALLOW_ASYNC_UNSAFE is set for exactly that long.
    Function scope keeps both the loop and the switch from leaking into the tests that run after."""
    if os.environ.get("LEADSYNC_SKIP_BROWSER") == "1":
        pytest.skip("browser tests skipped: LEADSYNC_SKIP_BROWSER=1")
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not available: {CHROMIUM} is missing (apt-get install chromium, or run `make test`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright not installed (pip install -r requirements-dev.txt)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sandbox(live_server, settings):
    """The product pointed at the seeded LinkedIn sandbox served by the live server."""
    from io import StringIO

    from django.core.management import call_command

    settings.LINKEDIN_API_URL = f"{live_server.url}/sandbox/linkedin"
    settings.LINKEDIN_OAUTH_URL = f"{live_server.url}/sandbox/linkedin/oauth/v2"
    call_command("sandbox_seed", "--leads", "0", stdout=StringIO())
    return live_server


@pytest.fixture
def admin_page(page, live_server, django_user_model):
    """A page logged into the admin as a superuser, through the real login form."""
    django_user_model.objects.create_superuser(ADMIN_USER, "admin@example.com", ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def eager():
    """Celery runs each task in the request that queues it: a click that queues work has done it
    when the page answers."""
    from leadsync_project.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def log_in_as_group_member(page, live_server, django_user_model, *, username, password, group, migration):
    """Log in through the real login form as staff whose only rights are `group`'s. A transactional
    test before this one may have flushed the group its `migration` made: it is made again by that
    migration's own code."""
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.models import Group

    import_module(f"leads.migrations.{migration}").create_group(apps, None)
    user = django_user_model.objects.create_user(username, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page
