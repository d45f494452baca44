"""Where the limits live is configured by settings and injected from the Django side: the API clients
of stored connections share the one limiter LEADSYNC_RATE_LIMIT_REDIS_URL says (connectors/clients.py)."""

import subprocess
import sys

import pytest

from connectors.clients import crm_client, rate_limiter
from connectors.ratelimit import LocalLimiter, RedisLimiter, limit_key
from connectors.tokens import linkedin_client
from tests import factories
from tests.project.test_settings import ROOT, run_manage

pytestmark = pytest.mark.django_db


def test_without_redis_the_clients_keep_the_limits_in_the_process(settings):
    settings.LEADSYNC_RATE_LIMIT_REDIS_URL = ""
    client = crm_client(factories.crm_connection())
    assert isinstance(client.limiter, LocalLimiter)
    assert client.daily_limit == settings.LEADSYNC_CRM_DAILY_LIMIT == 50_000


def test_with_redis_every_client_shares_one_redis_limiter(settings):
    settings.LEADSYNC_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:9/3"  # redis-py connects on first use only
    settings.LEADSYNC_RATE_LIMIT_MAX_WAIT = 12.5
    settings.LEADSYNC_CRM_DAILY_LIMIT = 0
    first, second = crm_client(factories.crm_connection()), crm_client(factories.crm_connection())
    assert isinstance(first.limiter, RedisLimiter) and first.limiter is second.limiter is rate_limiter()
    assert first.limiter.max_wait == 12.5 and first.daily_limit is None
    linkedin = linkedin_client(factories.linkedin_connection())
    assert linkedin.limiter is first.limiter


def test_a_linkedin_client_draws_on_its_members_budget_and_the_apps(settings):
    settings.LEADSYNC_LINKEDIN_MEMBER_DAILY_CALLS = 900
    settings.LEADSYNC_LINKEDIN_APP_DAILY_CALLS = 0
    connection = factories.linkedin_connection(member_urn="urn:li:person:abc")
    assert linkedin_client(connection).budgets == (
        (limit_key("linkedin-member", settings.LINKEDIN_CLIENT_ID, "urn:li:person:abc"), 900),)
    settings.LEADSYNC_LINKEDIN_APP_DAILY_CALLS = 5000
    budgets = linkedin_client(connection).budgets
    assert budgets[1] == (limit_key("linkedin-app", settings.LINKEDIN_CLIENT_ID), 5000)


def shown(**env):
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(repr(settings.LEADSYNC_RATE_LIMIT_REDIS_URL))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"DJANGO_SETTINGS_MODULE": "leadsync_project.settings",
                               "LEADSYNC_ENV_FILE": "/nonexistent/.env", "PATH": "/usr/bin:/bin", **env})


def test_the_limiter_follows_a_redis_broker_unless_told_otherwise():
    assert shown(CELERY_BROKER_URL="redis://10.0.0.5:6379/0").stdout.strip() == "'redis://10.0.0.5:6379/0'"
    assert shown(CELERY_BROKER_URL="memory://").stdout.strip() == "''"
    assert shown(CELERY_BROKER_URL="redis://10.0.0.5:6379/0",
                 LEADSYNC_RATE_LIMIT_REDIS_URL="redis://10.0.0.6:6379/2").stdout.strip() == "'redis://10.0.0.6:6379/2'"
    assert shown(CELERY_BROKER_URL="redis://10.0.0.5:6379/0", LEADSYNC_RATE_LIMIT_REDIS_URL="off").stdout.strip() == "''"


@pytest.mark.parametrize("env, message", [
    ({"LEADSYNC_RATE_LIMIT_REDIS_URL": "http://cache:6379"}, "must be a redis://"),
    ({"LEADSYNC_CRM_DAILY_LIMIT": "-1"}, "LEADSYNC_CRM_DAILY_LIMIT must not be negative"),
])
def test_a_bad_limit_setting_is_a_clear_error(env, message):
    result = run_manage("check", **env)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and message in result.stderr
