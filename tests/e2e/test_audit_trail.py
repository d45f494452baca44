"""The audit trail of work that reaches LinkedIn and the CRM, started by hand from the CLI against the
sandbox over real HTTP: a sync, a backfill, a reconcile and CRM fields created for unmapped sources,
each one event by "cli", and no token or secret in any of them."""

import json

import pytest

from connectors.models import CrmConnection, LinkedInConnection
from mappings.models import FieldMapping, IntegrationEvent
from mappings.services import mapping_fields_suggested

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def kinds(integration):
    return list(IntegrationEvent.objects.filter(integration=integration).order_by("at", "pk")
                .values_list("kind", "actor", "via"))


def test_syncs_reconcile_and_created_fields_from_the_cli_are_each_one_event(cli, event_integration, linkedin_tokens):
    integration, form_id = event_integration, event_integration.form.linkedin_id
    assert kinds(integration) == [("enabled", "cli", "cli")]

    assert cli("sync", form_id).code == 0
    assert cli("sync", form_id, "--days", "30").code == 0
    assert cli("retry-failed", form_id).code == 0
    assert cli("reconcile", form_id, "--days", "30").code == 0
    # A question unmapped behind the trail's back (as if never mapped), then given its CRM field again.
    unmapped = (integration.mappings.filter(source_kind="question").exclude(crm_field__in=["", "emailAddress"])
                .order_by("position").last())
    FieldMapping.objects.filter(pk=unmapped.pk).update(crm_field="")
    suggested = [(kind, key) for kind, key, _ in mapping_fields_suggested(integration=integration)]
    assert ("question", unmapped.source_key) in suggested
    created = cli("mapping", "create-fields", form_id, f"question:{unmapped.source_key}")
    assert created.code == 0, created.err

    events = list(IntegrationEvent.objects.filter(integration=integration).order_by("at", "pk"))
    assert [e.kind for e in events] == ["enabled", "sync_started", "sync_started", "sync_started", "reconciled",
                                        "mapping_changed"]
    assert all((e.actor, e.via) == ("cli", "cli") for e in events)
    manual, backfill, retry, reconciled = events[1:5]
    assert manual.detail["trigger"] == "manual" and manual.detail["run_state"] == "succeeded"
    assert backfill.detail["trigger"] == "backfill" and backfill.detail["days"] == 30
    assert retry.detail["trigger"] == "retry"
    assert reconciled.detail["state"] == "complete" and reconciled.detail["days"] == 30
    [row] = events[-1].detail["rows"]
    assert row["source_key"] == unmapped.source_key and row["changes"]["crm_field"]["old"] == ""
    assert row["changes"]["crm_field"]["new"]

    crm = CrmConnection.objects.get()
    member = LinkedInConnection.objects.get()
    dumped = json.dumps([[e.summary, e.detail] for e in events])
    for secret in (crm.secret_key, member.access_token, member.refresh_token, linkedin_tokens["access_token"]):
        assert secret and secret not in dumped
    # The daily beat's reconcile is on the integration's page, not in the trail.
    from leads.tasks import reconcile_integrations
    reconcile_integrations()
    assert IntegrationEvent.objects.filter(integration=integration).count() == len(events)
