"""`leadsync sync` against the sandbox: its progress is a bar on a terminal and lines in a pipe,
on stderr; with --json, stdout is the one JSON document whatever stderr is."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Terminal(StringIO):
    def isatty(self):
        return True


def test_sync_shows_a_bar_on_a_terminal_and_lines_in_a_pipe(event_integration):
    form_id = event_integration.form.linkedin_id
    out, err = StringIO(), Terminal()
    call_command("leadsync", "sync", form_id, "--days", "30", "--json", stdout=out, stderr=err)
    document = json.loads(out.getvalue())
    assert document, "stdout is the JSON document only"
    assert "\r" in err.getvalue() and "push" in err.getvalue()

    out, err = StringIO(), StringIO()
    call_command("leadsync", "sync", form_id, "--days", "30", "--json", stdout=out, stderr=err)
    json.loads(out.getvalue())
    lines = err.getvalue().splitlines()
    assert "\r" not in err.getvalue() and any(line.startswith("  pull: ") for line in lines), lines
