"""A whole sync over real HTTP against the sandbox, logged at DEBUG in JSON (urllib3's request
lines included, which carry the CRM's credentials in their query string): not one line holds a
token, the CRM's secret key or a lead's e-mail address, and the run's lines say which run."""

import json

import pytest

from connectors.models import LinkedInConnection
from leads.models import Lead, SyncRun
from tests.e2e.conftest import cli, crm_account, event_integration, linkedin_tokens, sandbox  # noqa: F401
from tests.project.test_logs import captured

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_logged_sync_holds_no_token_secret_or_email(cli, event_integration, crm_account, linkedin_tokens):  # noqa: F811
    with captured(loggers=("urllib3", "connectors", "leads", "mappings")) as stream:
        result = cli("sync", event_integration.form.linkedin_id, "--days", "90", "--json")
    assert result.code == 0, result.err
    text = stream.getvalue()
    records = [json.loads(line) for line in text.splitlines()]

    emails = set(Lead.objects.exclude(email="").values_list("email", flat=True))
    connection = LinkedInConnection.objects.get()
    secrets = {linkedin_tokens["access_token"], linkedin_tokens["refresh_token"], connection.access_token,
               connection.refresh_token, crm_account["secret_key"], crm_account["account_id"]}
    assert emails and len(records) > 5  # it did log, and there were addresses to leak
    assert any(r["logger"].startswith("urllib3") and "secretKey=[redacted]" in r["message"] for r in records)
    leaked = sorted(s for s in secrets | emails if s and s in text)
    assert leaked == []
    run = SyncRun.objects.filter(integration=event_integration).latest("pk")
    assert any(r["run_id"] == run.pk and r["integration_id"] == event_integration.pk for r in records)
