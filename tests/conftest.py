"""Shared fixtures. Real services come from `make test` (scripts/test.sh) through environment
variables; run outside it, tests that need them are skipped, unless LEADSYNC_REQUIRE_SERVICES=1
(set by `make test`), when a missing service is an error."""

import ipaddress
import os
import socket

import pytest


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _loopback_only(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise OSError(f"a test tried to reach {host}: tests only talk to loopback addresses")


@pytest.fixture(autouse=True, scope="session")
def only_loopback():
    """No test reaches anything but this machine's loopback addresses (the sandbox, Redis,
    PostgreSQL): a request meant for LinkedIn or the CRM fails at once instead of leaving."""
    def connect(sock, address):
        _loopback_only(sock, address)
        return _connect(sock, address)

    def connect_ex(sock, address):
        _loopback_only(sock, address)
        return _connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    yield
    socket.socket.connect, socket.socket.connect_ex = _connect, _connect_ex


def _service_url(var, what):
    url = os.environ.get(var)
    if not url:
        message = f"{what} not available: {var} is not set (run `make test`)"
        if os.environ.get("LEADSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(autouse=True)
def empty_cache():
    """Nothing cached by one test (the admin's Celery health) is seen by the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def health_cached(db):
    """The admin's Celery health computed and cached before the test's first page: a test that
    counts the queries of its pages counts the same for each (see LEADSYNC_HEALTH_CACHE_SECONDS)."""
    from leads.health import celery_health

    celery_health()


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
