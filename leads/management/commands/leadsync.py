"""`python manage.py leadsync SUBCOMMAND`: the operator CLI.

Everything an admin does in the admin can also be done from here, for automation and headless
servers. Every subcommand takes `--json`. Exit codes: 0 success (individual lead failures are
reported, not fatal), 1 the run could not do its job, 2 bad usage. Secrets never reach the output.
The subcommands live in leads/cli.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.cli import MODULES
from leads.cli.base import EXIT_USAGE, CliOutput


class UsageParser(CommandParser):
    """A subcommand's parser: arguments it cannot take are bad usage, exit 2, also when the
    command is called from code (`call_command`), where Django's parser would say 1."""

    def error(self, message):
        if self.called_from_command_line:
            super().error(message)
        raise CommandError(f"Error: {message}", returncode=EXIT_USAGE)


class Command(CliOutput, BaseCommand):
    help = "LeadSync operator commands: everything the admin does, from the command line."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True,
                                           parser_class=UsageParser)
        for module in MODULES:
            module.register(subparsers)

    def handle(self, *args, **options):
        self.dispatch(options)
