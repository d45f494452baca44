"""A pull renews the locks of all its members at every page: those that only need checking are
checked in one query for the lot, and one taken over (or torn down) stops the sync."""

import pytest

from leads.pipeline.locks import LockLost, integration_lock_take_over, integration_locked, locks_renew
from mappings.models import Integration
from tests import factories

pytestmark = pytest.mark.django_db


def test_fresh_locks_are_checked_in_one_query(django_assert_num_queries):
    integrations = [factories.integration() for _ in range(4)]
    with integration_locked(integration=integrations[0]) as a, integration_locked(integration=integrations[1]) as b, \
            integration_locked(integration=integrations[2]) as c, integration_locked(integration=integrations[3]) as d:
        with django_assert_num_queries(1):
            locks_renew([a, b, c, d])


def test_a_lock_taken_over_among_fresh_ones_stops_the_pull():
    first, second = factories.integration(), factories.integration()
    with integration_locked(integration=first) as a, integration_locked(integration=second) as b:
        integration_lock_take_over(integration=second)
        with pytest.raises(LockLost, match="another sync took it over"):
            locks_renew([a, b])
        locks_renew([a])  # the other one still holds


def test_a_torn_down_integration_says_so():
    first, second = factories.integration(), factories.integration()
    with integration_locked(integration=first) as a, integration_locked(integration=second) as b:
        integration_lock_take_over(integration=first)
        Integration.objects.filter(pk=first.pk).update(state=Integration.State.TORN_DOWN)
        with pytest.raises(LockLost, match="torn down"):
            locks_renew([a, b])


def test_a_lock_due_for_its_lease_is_written(monkeypatch):
    first, second = factories.integration(), factories.integration()
    with integration_locked(integration=first) as a, integration_locked(integration=second) as b:
        a.renewed -= 3600  # its last extension is long past: this renewal writes the lease
        before = Integration.objects.get(pk=first.pk).locked_until
        locks_renew([a, b])
        assert Integration.objects.get(pk=first.pk).locked_until > before
