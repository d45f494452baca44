"""The CLI's progress: a live bar (tqdm) when stderr is a terminal, plain lines when it is not,
always on stderr, so that stdout with --json is one JSON document."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from leads.management.commands.leadsync import Command


class Terminal(StringIO):
    def isatty(self):
        return True


def command(stderr):
    cmd = Command(stdout=StringIO(), stderr=stderr)
    cmd.verbosity = 1
    return cmd


def test_a_terminal_gets_a_bar_redrawn_in_place():
    err = Terminal()
    cmd = command(err)
    cmd.progress("pull", 10, None)
    cmd.progress("push", 3, 12)
    cmd.progress("push", 12, 12)
    cmd._progress_end()
    text = err.getvalue()
    assert "\r" in text and "12/12" in text and "100%" in text
    assert "pull: 10" in text  # a stage without a total is a count


def test_a_pipe_gets_plain_lines_and_no_bar():
    err = StringIO()
    cmd = command(err)
    cmd.progress("pull", 10, None)
    cmd.progress("push", 3, 12)
    assert err.getvalue().splitlines() == ["  pull: 10", "  push: 3/12"]


def test_quiet_prints_no_progress_even_on_a_terminal():
    err = Terminal()
    cmd = command(err)
    cmd.verbosity = 0
    cmd.progress("push", 3, 12)
    assert err.getvalue() == ""


@pytest.mark.django_db
@pytest.mark.parametrize("stderr", [StringIO, Terminal])
def test_json_stdout_stays_one_document_with_progress_on_stderr(stderr, monkeypatch):
    def handler(command, options):  # a subcommand that reports progress, then its result
        command.progress("push", 1, 2)
        command.progress("push", 2, 2)
        command.emit({"ok": True, "pushed": 2}, text="pushed 2")

    out, err = StringIO(), stderr()
    cmd = Command(stdout=out, stderr=err)
    cmd.dispatch({"handler": handler, "json": True, "verbosity": 1})
    assert json.loads(out.getvalue()) == {"ok": True, "pushed": 2}
    assert "2/2" in err.getvalue()


@pytest.mark.django_db
def test_status_json_on_a_terminal_prints_only_json():
    out = StringIO()
    call_command("leadsync", "status", "--json", stdout=out, stderr=Terminal())
    json.loads(out.getvalue())
