"""End-to-end fixtures: the product talks to the sandbox over real HTTP (pytest-django's
live_server), exactly as it would talk to LinkedIn and the CRM."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

CRM_ACCOUNT, CRM_SECRET = "E2E-ACCOUNT", "e2e-secret-key-123"


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):
        return json.loads(self.out)


def run_cli(*args):
    """`manage.py leadsync ARGS` in this process; returns exit code, stdout and stderr."""
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("leadsync", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:  # what manage.py turns into its exit code (2: bad usage)
        code = exc.returncode
        err.write(str(exc))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def sandbox(live_server, settings):
    """Point the product at the sandbox served by the live server."""
    settings.LINKEDIN_API_URL = f"{live_server.url}/sandbox/linkedin"
    settings.LINKEDIN_OAUTH_URL = f"{live_server.url}/sandbox/linkedin/oauth/v2"
    settings.LEADGEN_CRM_API_URL = f"{live_server.url}/sandbox/crm/pubapi/v1.2/"
    return live_server


@pytest.fixture
def crm_account(sandbox):
    call_command("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET, stdout=StringIO())
    return {"account_id": CRM_ACCOUNT, "secret_key": CRM_SECRET}


@pytest.fixture
def linkedin_tokens(sandbox):
    """A seeded LinkedIn sandbox; returns the token set it printed for its member."""
    out = StringIO()
    call_command("sandbox_seed", "--leads", "120", "--json", stdout=out)
    return json.loads(out.getvalue())["tokens"]


@pytest.fixture
def linkedin_sandbox(linkedin_tokens):
    """A seeded LinkedIn sandbox; returns a fresh access token of its member."""
    return linkedin_tokens["access_token"]


@pytest.fixture
def event_integration(cli, crm_account, linkedin_tokens):
    """CRM and LinkedIn connected, discovered, the first event form enabled; returns the Integration."""
    from connectors.models import LeadForm
    from mappings.models import Integration

    assert cli("crm", "add", "crm", "--account-id", crm_account["account_id"], "--secret-key", crm_account["secret_key"]).code == 0
    t = linkedin_tokens
    assert cli("linkedin", "add", "alex", "--access-token", t["access_token"], "--refresh-token", t["refresh_token"],
               "--expires-in", str(t["expires_in"]), "--refresh-expires-in", str(t["refresh_token_expires_in"])).code == 0
    assert cli("discover").code == 0
    form = LeadForm.objects.filter(event__isnull=False).order_by("linkedin_id").first()
    assert cli("enable", form.linkedin_id, "--crm", "crm").code == 0
    return Integration.objects.get(form=form)


def crm_fault(**switches):
    args = ["--account-id", CRM_ACCOUNT]
    for name, value in switches.items():
        args += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    call_command("sandbox_crm_fault", *args, stdout=StringIO())
