"""The suite is hermetic: nothing but loopback is reachable, a developer's .env does not leak in,
and the PostgreSQL run really runs on PostgreSQL."""

import os
import socket

import pytest
from django.conf import settings
from django.db import connection


def test_an_address_that_is_not_loopback_is_refused_before_anything_leaves():
    with pytest.raises(OSError, match="only talk to loopback"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: never routed


def test_the_external_urls_point_at_a_closed_loopback_port_by_default():
    for url in (settings.LINKEDIN_API_URL, settings.LINKEDIN_OAUTH_URL, settings.LEADGEN_CRM_API_URL):
        assert url.startswith("http://127.0.0.1:9/"), url
    assert not os.path.exists(os.environ["LEADSYNC_ENV_FILE"])


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_postgresql_run_really_runs_on_postgresql():
    wanted = os.environ.get("LEADSYNC_TEST_POSTGRES_URL")
    if not wanted or os.environ.get("DATABASE_URL") != wanted:
        pytest.skip("the SQLite run: the PostgreSQL run of `make test` checks this")
    assert connection.vendor == "postgresql"
