"""The offline end-to-end demonstration (`leadsync demo`, run by `make demo`): the product's own
code paths, driven against the sandbox over HTTP. It never imports the sandbox; it only needs
LINKEDIN_* and LEADGEN_CRM_API_URL to point at it and the sandbox to be seeded."""

import secrets

from django.conf import settings

from connectors.clients import linkedin_oauth
from connectors.crm_connections import crm_connection_save
from connectors.discovery import linkedin_discover
from connectors.exceptions import LeadSyncError
from connectors.tokens import linkedin_connection_save_tokenset
from connectors.models import LeadForm
from leads.pipeline.sync import integrations_sync
from leads.integrations import integration_enable
from leads.models import SyncRun
from mappings.audit import CLI
from mappings.models import Integration

CRM_NAME = "Sandbox CRM"
LINKEDIN_NAME = "Sandbox LinkedIn"


class DemoError(LeadSyncError):
    """The demo cannot run here: it needs the sandbox."""


def demo_run(*, crm_account_id, crm_secret_key, days=90, progress) -> dict:
    """Connect the CRM and LinkedIn (through the sandbox's OAuth consent, auto-approved), discover,
    enable every event form, sync the last `days` days. Safe to run again: connections are
    updated, integrations reused, and leads already synced are not pushed twice.

    `progress(stage, done, total)` hears of every step: a demo is watched as it runs."""
    if not settings.LEADSYNC_SANDBOX:
        raise DemoError("The demo runs on the sandbox: set LEADSYNC_SANDBOX=1 and point LINKEDIN_API_URL, "
                        "LINKEDIN_OAUTH_URL and LEADGEN_CRM_API_URL at it (make demo does all of this).")
    progress("connecting the CRM", 0, None)
    crm = crm_connection_save(
        name=CRM_NAME, account_id=crm_account_id, secret_key=crm_secret_key, api_url=settings.LEADGEN_CRM_API_URL
    )
    progress("connecting LinkedIn (OAuth consent, auto-approved by the sandbox)", 0, None)
    oauth = linkedin_oauth()
    redirect_uri = settings.LINKEDIN_REDIRECT_URI or "http://127.0.0.1:8000/linkedin/callback/"
    code = oauth.auto_approved_code(redirect_uri, secrets.token_urlsafe(16))
    linkedin = linkedin_connection_save_tokenset(
        name=LINKEDIN_NAME, tokens=oauth.exchange_code(code, redirect_uri)
    )
    discovered = linkedin_discover(connection=linkedin, progress=progress)
    forms = LeadForm.objects.filter(owner__connection=linkedin, event__isnull=False).select_related("event")
    integrations = []
    for form in forms:
        integration = Integration.objects.exclude(state=Integration.State.TORN_DOWN).filter(form=form).first()
        if integration is None:
            integration = integration_enable(form=form, crm_connection=crm, by=CLI)
        integrations.append(integration)
    progress(f"syncing {len(integrations)} event forms (one LinkedIn query per organization and lead type)", 0, None)
    runs = integrations_sync(integrations=integrations, trigger=SyncRun.Trigger.BACKFILL, days=days,
                                           progress=progress)
    totals = {key: sum(getattr(r, key) for r in runs) for key in ("pulled", "new", "created", "updated", "failed", "skipped")}
    return {
        "crm": {"name": crm.name, "fields": crm.fields.count()},
        "linkedin": {"name": linkedin.name, "member": linkedin.member_name, "token": linkedin.token_state()},
        "discovered": discovered,
        "integrations": [
            {"form_id": r.integration.form.linkedin_id, "form": r.integration.form.name, "state": r.state,
             "error": r.error, "pulled": r.pulled, "new": r.new, "created": r.created, "updated": r.updated,
             "failed": r.failed, "skipped": r.skipped}
            for r in runs
        ],
        "totals": totals,
    }
