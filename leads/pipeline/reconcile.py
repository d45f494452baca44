"""Reconciliation, the safety net's safety net: LinkedIn's own count of a form's leads in a window
compared with what LeadSync stored for it; where LinkedIn has more, the window is pulled again (a
backfill: leads already stored are left alone, none is pushed twice). The outcome is recorded on
the integration, for the admin and `leadsync reconcile`."""

from datetime import timedelta

from django.utils import timezone

from connectors.linkedin.times import epoch_ms
from connectors.linkedin.urns import versioned_form_urn
from connectors.tokens import linkedin_client
from leads.models import Lead, SyncRun
from leads.pipeline.sync import integration_sync
from mappings.audit import Actor, record_by
from mappings.models import Integration, IntegrationEvent

DEFAULT_DAYS = 7


def _linkedin_count(integration: Integration, start, end):
    """LinkedIn's count of the form's responses submitted in [start, end), over its lead types and
    its stored versions; None when LinkedIn gives no total."""
    form = integration.form
    client = linkedin_client(form.owner.connection)
    total = 0
    for lead_type in integration.lead_types or form.receives():
        for version in form.versions.values_list("version", flat=True):
            count = client.lead_form_responses_total(form.owner.urn, lead_type, start_ms=epoch_ms(start),
                                                     end_ms=epoch_ms(end),
                                                     versioned_form_urn=versioned_form_urn(form.linkedin_id, version))
            if count is None:
                return None
            total += count
    return total


def _stored(integration: Integration, start, end) -> int:
    # Leads LinkedIn reported deleted are no longer in its count.
    return (Lead.objects.filter(integration=integration, submitted_at__gte=start, submitted_at__lt=end)
            .exclude(state=Lead.State.DELETED).count())


def integration_reconcile(*, integration: Integration, days: int = DEFAULT_DAYS, now=None,
                          by: Actor | None = None) -> dict:
    """Compare LinkedIn's count of the integration's leads of the last `days` days with what is
    stored; pull the window again when LinkedIn has more. Returns (and records) the outcome; one
    started by hand (`by`) is in the audit trail too (the daily beat's is not: it is on the page).
    ApiError and NeedsReauthorization propagate (nothing recorded); SyncBusy when a sync holds it."""
    end = now or timezone.now()
    start = end - timedelta(days=days)
    linkedin = _linkedin_count(integration, start, end)
    stored_before = _stored(integration, start, end)
    result = {"window_start": start.isoformat(), "window_end": end.isoformat(), "linkedin": linkedin,
              "stored_before": stored_before, "repulled": False, "stored_after": stored_before, "run": None}
    if linkedin is not None and linkedin > stored_before:
        run = integration_sync(integration=integration, trigger=SyncRun.Trigger.BACKFILL, since=start)
        result.update(repulled=True, run=run.pk, run_state=run.state, stored_after=_stored(integration, start, end))
    result["state"] = ("unknown" if linkedin is None else
                       "complete" if result["stored_after"] >= linkedin else "missing")
    Integration.objects.filter(pk=integration.pk).update(reconciled_at=timezone.now(), reconcile_result=result)
    record_by(by, integration, IntegrationEvent.Kind.RECONCILED,
              f"Reconciled the last {days} days: {result['state']}; LinkedIn counts {linkedin}, {stored_before} were "
              "stored" + (f", pulled again: {result['stored_after']} stored now" if result["repulled"] else "") + ".",
              {"days": days, **result})
    return result
