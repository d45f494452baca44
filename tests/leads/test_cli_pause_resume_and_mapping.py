"""The CLI twins of the integration page: `leadsync pause`, `resume`, `mapping export`, `mapping
import`, `mapping reviewed` and `recreate --mapping`, with their exit codes (0 done, 1 refused with
the reason, 2 bad usage) and --json."""

import argparse
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from leads.integrations import integration_schedule, integration_teardown
from mappings.models import Integration
from mappings.services import mapping_export
from tests import factories

pytestmark = pytest.mark.django_db


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):
        return json.loads(self.out)


def cli(*args):
    """`manage.py leadsync ARGS` in this process: its exit code, stdout and stderr."""
    out, err, code = StringIO(), StringIO(), 0
    try:
        call_command("leadsync", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:  # manage.py's exit code for bad usage
        code = exc.returncode
        err.write(str(exc))
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def integration():
    """A scheduled integration of a form whose two questions are mapped (one to emailAddress)."""
    integration = factories.integration()
    factories.field_mapping(integration, source_key="1", source_label="First name", crm_field="firstName", position=0)
    factories.field_mapping(integration, source_key="2", source_label="Email", crm_field="emailAddress", position=1)
    integration_schedule(integration=integration)
    return integration


def form_id(integration):
    return integration.form.linkedin_id


def beat_enabled(integration):
    return PeriodicTask.objects.get(pk=Integration.objects.get(pk=integration.pk).periodic_task_id).enabled


def test_the_new_subcommands_are_registered_with_json():
    from leads.management.commands.leadsync import Command

    def sub(parser, word):
        [choices] = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return choices.get(word)

    for name in ("pause", "resume", "configure", "mapping export", "mapping import", "mapping reviewed"):
        parser = Command().create_parser("manage.py", "leadsync")
        for word in name.split():
            parser = sub(parser, word)
            assert parser is not None, f"`leadsync {name}` is not registered"
        assert callable(parser.get_default("handler")) and parser.get_default("json") is False, name


# --- configure ----------------------------------------------------------------------------------------------


def test_configure_shows_the_settings_and_changes_the_reaction_to_a_linkedin_deletion(integration):
    shown = cli("configure", form_id(integration), "--json")
    assert shown.code == 0 and shown.json["on_linkedin_delete"] == "local" and not shown.json["changed"]

    changed = cli("configure", form_id(integration), "--on-delete", "crm")

    assert changed.code == 0 and "delete it in the CRM" in changed.out
    assert Integration.objects.get(pk=integration.pk).on_linkedin_delete == "crm"
    assert cli("configure", form_id(integration), "--on-delete", "nope").code == 2


def test_a_torn_down_integration_keeps_its_choice_through_recreate(integration):
    assert cli("configure", form_id(integration), "--on-delete", "crm").code == 0
    integration_teardown(integration=integration)
    assert cli("configure", form_id(integration), "--json").json["state"] == "torn_down"
    assert cli("recreate", form_id(integration)).code == 0
    assert Integration.objects.get(pk=integration.pk).on_linkedin_delete == "crm"


# --- pause and resume -------------------------------------------------------------------------------------


def test_pause_and_resume_turn_the_schedule_off_and_on(integration):
    result = cli("pause", form_id(integration), "--json")
    assert result.code == 0, result.err
    assert result.json == {"ok": True, "integration": integration.pk, "form_id": form_id(integration), "state": "paused"}
    assert not beat_enabled(integration)

    result = cli("resume", form_id(integration))
    assert result.code == 0 and "resumed: its next scheduled pull starts from its watermark" in result.out
    assert Integration.objects.get(pk=integration.pk).state == "active" and beat_enabled(integration)


def test_pausing_twice_exits_1_with_the_reason(integration):
    assert cli("pause", form_id(integration)).code == 0
    result = cli("pause", form_id(integration), "--json")
    assert result.code == 1
    assert result.json == {"ok": False, "error": f"{integration} is already paused."}
    text = cli("resume", form_id(integration))
    assert text.code == 0
    again = cli("resume", form_id(integration))
    assert again.code == 1 and "is already active" in again.err


def test_a_torn_down_integration_is_not_resumed_but_recreated(integration):
    integration_teardown(integration=integration)
    result = cli("resume", form_id(integration))
    assert result.code == 1 and "recreate it first" in result.err


@pytest.mark.parametrize("args", [("pause", "999999"), ("resume", "999999"), ("mapping", "export", "999999"),
                                  ("mapping", "reviewed", "999999")])
def test_an_unknown_form_is_bad_usage(args):
    result = cli(*args)
    assert result.code == 2 and "No discovered form with id '999999'" in result.err


def test_a_form_without_an_integration_is_bad_usage():
    form = factories.lead_form()
    result = cli("pause", form.linkedin_id)
    assert result.code == 2 and "has no integration" in result.err


# --- mapping export / import ------------------------------------------------------------------------------


def test_export_prints_the_document_itself_with_or_without_json(integration):
    for args in ((), ("--json",)):
        result = cli("mapping", "export", form_id(integration), *args)
        assert result.code == 0
        document = result.json
        assert document["format"] == "leadsync-mapping" and document["form_id"] == form_id(integration)
        assert [r["crm_field"] for r in document["rows"]] == ["firstName", "emailAddress"]


def test_export_to_a_file_writes_the_document_and_says_so(integration, tmp_path):
    path = tmp_path / "mapping.json"
    result = cli("mapping", "export", form_id(integration), "--file", str(path))
    assert result.code == 0 and f"2 rows, written to {path}" in result.out
    assert json.loads(path.read_text())["rows"][1]["crm_field"] == "emailAddress"
    result = cli("mapping", "export", form_id(integration), "--file", str(path), "--json")
    assert result.json == json.loads(path.read_text()) | {"exported_at": result.json["exported_at"]}
    assert cli("mapping", "export", form_id(integration), "--file", str(tmp_path / "no" / "such" / "dir.json")).code == 2


def write(tmp_path, document, name="mapping.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_import_applies_the_document_and_reports_counts(integration, tmp_path):
    document = mapping_export(integration=integration)
    document["rows"][0].update(transform="constant", transform_option="Friend")
    result = cli("mapping", "import", form_id(integration), write(tmp_path, document), "--json")
    assert result.code == 0, result.err
    assert result.json | {"integration": None} == {"ok": True, "integration": None, "form_id": form_id(integration),
                                                   "state": "active", "updated": 1, "created": 0, "unchanged": 1,
                                                   "kept": 0}
    first = integration.mappings.get(source_key="1")
    assert (first.transform, first.transform_option) == ("constant", "Friend")


def test_a_refused_import_exits_1_with_the_sentence_and_changes_nothing(integration, tmp_path):
    before = list(integration.mappings.values())
    document = mapping_export(integration=integration)
    document["rows"][1]["crm_field"] = "firstName"
    result = cli("mapping", "import", form_id(integration), write(tmp_path, document))
    assert result.code == 1
    assert "Error: The mapping was not imported" in result.err and "firstName is set both by" in result.err
    assert list(integration.mappings.values()) == before


@pytest.mark.parametrize("content, says", [(None, "Cannot read the mapping file"),
                                           ("{oops", "is not JSON: Expecting property name")])
def test_a_missing_or_unreadable_file_or_invalid_json_is_bad_usage(integration, tmp_path, content, says):
    path = str(tmp_path / "missing.json") if content is None else write(tmp_path, content)
    result = cli("mapping", "import", form_id(integration), path)
    assert result.code == 2 and says in result.err


def test_import_reads_stdin_for_a_dash(integration, monkeypatch):
    document = mapping_export(integration=integration)
    document["rows"][0]["transform"] = "title"
    monkeypatch.setattr("sys.stdin", StringIO(json.dumps(document)))
    assert cli("mapping", "import", form_id(integration), "-").code == 0
    assert integration.mappings.get(source_key="1").transform == "title"


def test_mapping_reviewed_clears_the_flag(integration):
    Integration.objects.filter(pk=integration.pk).update(mapping_review={
        "version": 2, "added": [{"source_kind": "question", "source_key": "9", "source_label": "Diet"}], "removed": [],
        "since": "2026-01-31T09:00:00+00:00"})
    result = cli("mapping", "reviewed", form_id(integration), "--json")
    assert result.code == 0 and result.json["was_flagged"] is True and result.json["review"]["version"] == 2
    assert not Integration.objects.get(pk=integration.pk).mapping_needs_review
    assert "nothing to clear" in cli("mapping", "reviewed", form_id(integration)).out


# --- recreate from an imported mapping ----------------------------------------------------------------------


def test_recreate_starts_from_the_mapping_file(integration, tmp_path):
    document = mapping_export(integration=integration)
    document["rows"][0]["crm_field"] = ""
    path = write(tmp_path, document)
    integration_teardown(integration=integration)

    result = cli("recreate", form_id(integration), "--mapping", path, "--json")

    assert result.code == 0, result.err
    assert result.json["mapping_imported"]["updated"] == 1 and result.json["state"] == "active"
    assert integration.mappings.get(source_key="1").crm_field == ""
    assert beat_enabled(integration)


def test_recreate_with_a_refused_mapping_exits_1_and_stays_torn_down(integration, tmp_path):
    document = mapping_export(integration=integration)
    document["rows"][1]["crm_field"] = ""  # emailAddress unmapped
    integration_teardown(integration=integration)
    result = cli("recreate", form_id(integration), "--mapping", write(tmp_path, document))
    assert result.code == 1 and "emailAddress must stay mapped" in result.err
    assert Integration.objects.get(pk=integration.pk).state == "torn_down"
    assert integration.mappings.get(source_key="2").crm_field == "emailAddress"


def test_import_into_a_torn_down_integration_then_recreate(integration, tmp_path):
    integration_teardown(integration=integration)
    document = mapping_export(integration=integration)
    document["rows"][0]["transform"] = "upper"
    assert cli("mapping", "import", form_id(integration), write(tmp_path, document)).code == 0
    assert cli("recreate", form_id(integration)).code == 0
    assert integration.mappings.get(source_key="1").transform == "upper"


@pytest.mark.parametrize("args, says", [
    (["--every", "999999999"], "between 1 and 10080 minutes"),
    (["--every", "0"], "between 1 and 10080 minutes"),
    (["--create-field", "banana"], "KIND:KEY"),
    (["--lead-type", "NOPE"], "invalid choice"),
    (["--on-delete", "both"], "invalid choice"),
])
def test_enable_refuses_impossible_arguments_as_bad_usage_and_creates_nothing(args, says):
    form = factories.lead_form()
    crm = factories.crm_connection()
    with pytest.raises((CommandError, SystemExit)) as exc:
        call_command("leadsync", "enable", form.linkedin_id, "--crm", crm.name, *args,
                     stdout=StringIO(), stderr=StringIO())
    code = exc.value.returncode if isinstance(exc.value, CommandError) else exc.value.code
    assert code == 2 and (says in str(exc.value) or isinstance(exc.value, SystemExit))
    assert not Integration.objects.exists()


def test_a_second_teardown_says_what_already_is_and_changes_nothing():
    integration = factories.integration()
    integration_schedule(integration=integration)
    integration_teardown(integration=integration)
    torn = Integration.objects.get(pk=integration.pk)
    out = StringIO()
    call_command("leadsync", "teardown", integration.form.linkedin_id, stdout=out, stderr=StringIO())
    assert "was already torn down" in out.getvalue() and "nothing is left to do" in out.getvalue()
    assert Integration.objects.get(pk=integration.pk).torn_down_at == torn.torn_down_at
