import argparse
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests import factories

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("leadsync", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_status_json_is_valid_and_counts_leads():
    integ = factories.integration()
    factories.lead(integ, state="synced")
    factories.lead(integ, state="failed")
    factories.lead(integ)
    out, _ = run("status", "--json")
    data = json.loads(out)
    assert data["ok"] is True
    assert data["leads"]["synced"] == 1 and data["leads"]["failed"] == 1 and data["leads"]["pending"] == 1
    [row] = data["integrations"]
    assert row["form_id"] == integ.form.linkedin_id and row["leads"]["failed"] == 1


def test_status_never_prints_secrets():
    factories.linkedin_connection(access_token="AQV-status-secret", refresh_token="AQW-status-secret")
    factories.crm_connection(secret_key="CRM-status-secret", api_url="http://127.0.0.1:9/x?secretKey=CRM-status-secret")
    for args in (("status",), ("status", "--json")):
        out, err = run(*args)
        assert "status-secret" not in out + err


def test_status_text_lists_connections():
    factories.linkedin_connection(name="alex")
    out, _ = run("status")
    assert "alex: active" in out


# The subcommands of the operator CLI that scripts rely on (its contract), as far as LeadSync has them today.
CONTRACT_SUBCOMMANDS = (
    "crm add", "linkedin add", "linkedin heartbeat", "discover", "enable", "sync", "retry-failed",
    "teardown", "recreate", "status", "demo", "signoff", "report",
)


def _subparser(parser, word):
    [choices] = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return choices.get(word)


def test_every_contract_subcommand_has_a_handler():
    from leads.management.commands.leadsync import Command

    for name in CONTRACT_SUBCOMMANDS:
        parser = Command().create_parser("manage.py", "leadsync")
        for word in name.split():
            parser = _subparser(parser, word)
            assert parser is not None, f"`leadsync {name}` is not registered"
        assert callable(parser.get_default("handler")), f"`leadsync {name}` has no handler"
        assert parser.get_default("json") is False, f"`leadsync {name}` takes no --json"


def test_bad_usage_leaves_the_command_as_djangos_own_commanderror():
    """manage.py prints "<exception class>: message" and exits with its returncode: the line stays
    "CommandError: …" whichever subcommand refused the usage."""
    for args, message in ((["report", "--since", "yesterday"], "--since 'yesterday' is not an ISO 8601 date-time"),
                          (["linkedin", "heartbeat", "nobody"], "No LinkedIn connection named 'nobody'.")):
        with pytest.raises(CommandError) as exc:
            run(*args)
        assert type(exc.value) is CommandError and exc.value.returncode == 2
        assert str(exc.value).startswith(message)


@pytest.mark.parametrize("option, value", [("--expires-in", "-1"), ("--expires-in", "0"), ("--refresh-expires-in", "0")])
def test_a_token_lifetime_that_makes_no_sense_is_bad_usage_and_stores_nothing(option, value):
    from connectors.models import LinkedInConnection

    with pytest.raises(CommandError) as exc:
        call_command("leadsync", "linkedin", "add", "alex", "--access-token", "AQV-x", option, value,
                     stdout=StringIO(), stderr=StringIO())
    assert exc.value.returncode == 2 and "at least 1" in str(exc.value)
    assert not LinkedInConnection.objects.exists()
