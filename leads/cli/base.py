"""What every `leadsync` subcommand shares: its one error type, the `--json` option, the output
helpers and the translation of the product's errors into exit codes.

Exit codes: 0 success (individual lead failures are reported, not fatal), 1 the run could not do
its job, 2 bad usage. Handlers take `(command, options)`, print through `command.emit` and
`command.progress`, and raise `CliError` (or let a `LeadSyncError` through) when they cannot go on.
"""

import argparse
import json
import sys
from datetime import date, datetime

from django.core.management.base import CommandError
from tqdm import tqdm
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.exceptions import LeadSyncError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(CommandError):
    """The subcommand stops here. `returncode` EXIT_FAILED: the run could not do its job; the
    message (and `data`, merged into the --json error document) is printed and the process exits 1.
    EXIT_USAGE: bad usage; it leaves the command as Django's CommandError (manage.py prints
    "CommandError: …" and exits 2, call_command raises it) and nothing else is printed."""

    def __init__(self, message, *, returncode=EXIT_FAILED, data=None):
        super().__init__(message, returncode=returncode)
        self.data = data or {}


def failed(message, data=None) -> CliError:
    return CliError(message, returncode=EXIT_FAILED, data=data)


def usage(message) -> CliError:
    return CliError(message, returncode=EXIT_USAGE)


# Every subcommand takes --json: a parent parser each subcommand's parser is built with.
JSON_OPTION = argparse.ArgumentParser(add_help=False)
JSON_OPTION.add_argument("--json", action="store_true", help="print a JSON document instead of text")


def subcommand(subparsers, name, handler, *, help):
    """A subcommand's parser, with --json, dispatching to `handler(command, options)`."""
    parser = subparsers.add_parser(name, help=help, parents=[JSON_OPTION])
    parser.set_defaults(handler=handler)
    return parser


SINCE_EXAMPLE = "2026-01-31T00:00:00Z"


def parse_since(value):
    """The moment of a `--since ISO8601` option (None when not given): a date-time with a time
    zone (a bare date or a naive time would mean a different moment on every server), in the past."""
    if value is None:
        return None
    since = parse_datetime(value)
    if since is None:
        raise usage(f"--since {value!r} is not an ISO 8601 date-time, e.g. {SINCE_EXAMPLE}.")
    if since.tzinfo is None:
        raise usage(f"--since needs a time zone, e.g. {SINCE_EXAMPLE}.")
    if since >= timezone.now():
        raise usage(f"--since {value!r} is in the future: it must be a moment in the past.")
    return since


def json_default(value):
    """How every JSON document of the CLI (and the admin's downloads of the same documents) writes dates."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class ProgressBar:
    """`progress(stage, done, total)` as a tqdm bar on a terminal: one bar per stage, redrawn in
    place (a count while the total is not known, a bar once it is), closed when the next stage
    begins or the command ends."""

    def __init__(self, stream):
        self.stream, self.stage, self.bar = stream, None, None

    def __call__(self, stage, done, total):
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="lead", file=self.stream, leave=True, dynamic_ncols=True)
        if total != self.bar.total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        self.stage, self.bar = None, None


class CliOutput:
    """Output and error handling for a management command whose options carry a `handler`.

    `emit` prints one result: the JSON document with --json, the text otherwise. `progress` goes to
    stderr (silenced by -v0) so that stdout stays one parseable document: a live bar when stderr is
    a terminal, one plain line per step when it is not (a log, a pipe, cron)."""

    as_json = False
    verbosity = 1
    _bar = None

    def emit(self, data, *, text, stream=None):
        self._progress_end()  # the result never lands in the middle of a bar
        if self.as_json:
            self.stdout.write(json.dumps(data, default=json_default, ensure_ascii=False, indent=2))
        else:
            (stream or self.stdout).write(text)

    def progress(self, stage, done, total):
        if self.verbosity <= 0:
            return
        if self._bar is None and self.stderr.isatty():
            self._bar = ProgressBar(self.stderr._out)
        if self._bar is not None:
            self._bar(stage, done, total)
        else:
            self.stderr.write(f"  {stage}: {done}" + (f"/{total}" if total is not None else ""))

    def _progress_end(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def dispatch(self, options):
        """Run the subcommand's handler. Every error an operation may end with is a LeadSyncError:
        like a CliError with EXIT_FAILED it is printed ({"ok": false, "error": …} with --json,
        "Error: …" on stderr otherwise) and the process exits 1. Usage errors leave as CommandError."""
        self.as_json = options.get("json", False)
        self.verbosity = options.get("verbosity", 1)
        try:
            try:
                options["handler"](self, options)
            finally:
                self._progress_end()  # a bar ends before the result (or the error) is printed
        except LeadSyncError as exc:
            self._fail(failed(str(exc)))
        except CliError as error:
            if error.returncode != EXIT_FAILED:
                # manage.py prints "<exception class>: message" and exits with the returncode:
                # the class printed stays Django's own.
                raise CommandError(str(error), returncode=error.returncode) from error
            self._fail(error)

    def _fail(self, error):
        self.emit({"ok": False, "error": str(error), **error.data}, text=f"Error: {error}", stream=self.stderr)
        sys.exit(EXIT_FAILED)
