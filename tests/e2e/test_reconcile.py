"""Reconciliation against the sandbox over real HTTP: LinkedIn's count of a form's leads in a window
against what is stored; a window with leads missing is pulled again and the outcome recorded."""

import pytest
from django.urls import reverse

from leads.models import Lead
from mappings.models import Integration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_window_with_missing_leads_is_pulled_again_and_the_result_recorded(cli, event_integration, admin_client):
    assert cli("sync", "--days", "30").code == 0
    result = cli("reconcile", "--days", "30", "--json")
    assert result.code == 0, result.out + result.err
    [row] = result.json["integrations"]
    assert row["state"] == "complete" and not row["repulled"] and row["linkedin"] == row["stored_before"] > 0

    # Leads lost locally (a restore from an old backup): the count no longer matches.
    lost = list(Lead.objects.filter(integration=event_integration).order_by("pk").values_list("pk", flat=True)[:3])
    Lead.objects.filter(pk__in=lost).delete()
    result = cli("reconcile", "--days", "30", "--json")

    assert result.code == 0, result.out + result.err
    [row] = result.json["integrations"]
    assert row["repulled"] and row["stored_before"] == row["linkedin"] - 3 and row["stored_after"] == row["linkedin"]
    integration = Integration.objects.get(pk=event_integration.pk)
    assert integration.reconciled_at and integration.reconcile_result["state"] == "complete"
    page = admin_client.get(reverse("admin:mappings_integration_change", args=[integration.pk])).content.decode()
    assert "the window was pulled again" in page


def test_impossible_days_are_bad_usage(cli, event_integration):
    assert cli("reconcile", "--days", "0").code == 2
    assert cli("reconcile", "--days", "91").code == 2
