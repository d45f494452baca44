"""Shared fixtures. Real services come from `make test` (scripts/test.sh) through environment
variables; run outside it, tests that need them are skipped, unless LEADSYNC_REQUIRE_SERVICES=1
(set by `make test`), when a missing service is an error."""

import os

import pytest


def _service_url(var, what):
    url = os.environ.get(var)
    if not url:
        message = f"{what} not available: {var} is not set (run `make test`)"
        if os.environ.get("LEADSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def redis_url():
    return _service_url("LEADSYNC_TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def postgres_url():
    return _service_url("LEADSYNC_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture
def reviewer(client, django_user_model):
    """A client logged in as staff in the "Lead reviewers" group (made by a data migration)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("rita", password="pw-rita-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Lead reviewers"))
    client.force_login(user)
    return client
