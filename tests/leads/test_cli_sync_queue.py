"""`leadsync sync --queue`: the sync queued for the workers in parts (one per owner and lead types),
nothing run in this process; a bad window queues nothing. (On real workers: tests/e2e/test_queues.py.)"""

from unittest import mock

import pytest

from leads import tasks
from leads.models import SyncRun
from mappings.models import IntegrationEvent
from tests import factories
from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    """What would reach the broker: the parts' signatures, not sent."""
    with mock.patch("celery.canvas.Signature.apply_async", autospec=True) as apply_async:
        yield apply_async


def test_one_part_per_owner_and_lead_types_and_nothing_runs_here(sent, django_capture_on_commit_callbacks):
    org, ads = factories.owner(), factories.owner(kind="SPONSORED_ACCOUNT", urn="urn:li:sponsoredAccount:9")
    a = factories.integration(form=factories.lead_form(org))
    b = factories.integration(form=factories.lead_form(org))
    c = factories.integration(form=factories.lead_form(org, lead_types=["COMPANY"]))
    d = factories.integration(form=factories.lead_form(ads, lead_types=["SPONSORED"]))
    with django_capture_on_commit_callbacks(execute=True):  # queued once the command's transaction commits
        result = run_cli("sync", "--days", "30", "--queue", "--json")
    assert result.code == 0, result.out + result.err
    parts = result.json["parts"]
    assert sorted(sorted(p["integrations"]) for p in parts) == sorted([sorted([a.pk, b.pk]), [c.pk], [d.pk]])
    assert {tuple(p["lead_types"]) for p in parts} == {("EVENT",), ("COMPANY",), ("SPONSORED",)}
    assert sent.call_count == 3
    sent_args = [call.args[0] for call in sent.call_args_list]
    assert {s.task for s in sent_args} == {"leads.sync_group"}
    assert {s.kwargs["days"] for s in sent_args} == {30} and {s.kwargs["trigger"] for s in sent_args} == {"backfill"}
    assert [s.id for s in sent_args] == [p["task"] for p in parts]
    assert not SyncRun.objects.exists()
    assert IntegrationEvent.objects.filter(kind=IntegrationEvent.Kind.SYNC_STARTED).count() == 4


def test_a_bad_window_queues_nothing(sent):
    factories.integration()
    result = run_cli("sync", "--days", "91", "--queue", "--json")
    assert result.code == 2
    assert sent.call_count == 0 and not IntegrationEvent.objects.exists()


@pytest.mark.django_db(transaction=True)  # as the command runs: autocommit, so each part is sent at once
def test_a_broker_that_refuses_is_a_failure_that_says_so(sent):
    factories.integration()
    sent.side_effect = OSError("connection refused")
    result = run_cli("sync", "--queue", "--json")
    assert result.code == 1
    assert "could not be queued" in result.out + result.err


def test_only_a_manual_or_backfill_sync_is_split():
    with pytest.raises(ValueError):
        tasks.sync_fan_out(integrations=[], trigger="schedule")
