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
