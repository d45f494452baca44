"""Flip a sandbox CRM account's fault switches from the shell, to show the product's recovery paths."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sandbox.crm import services
from sandbox.crm.models import CrmAccount

OPTIONS = {
    "reject_email": ("reject_email_pattern", str, "Reject leads whose email matches this regex ('' turns it off)."),
    "reject_code": ("reject_code", int, "Error code for rejected leads (default 205)."),
    "reject_message": ("reject_message", str, "Error message for rejected leads."),
    "fail_next": ("fail_next_calls", int, "The next N calls answer HTTP 500 without doing the work."),
    "throttle_next": ("throttle_next_calls", int, "The next N calls answer error 107 (per-second limit)."),
    "daily_limit_next": ("daily_limit_next_calls", int, "The next N calls answer error 106 (daily limit)."),
    "drop_next": ("drop_next_answers", int, "The next N calls do the work, then answer HTTP 502."),
    "hold_call": ("hold_answer_of_call", int, "The Nth call from now does the work, then holds its answer for a "
                  "minute (kill the caller meanwhile to see what a lost answer leaves)."),
    "slow_ms": ("slow_answer_ms", int, "Wait this many milliseconds before every answer (0: off)."),
}


class Command(BaseCommand):
    help = "Show or change the fault switches of a sandbox CRM account. Without switches: show them."

    def add_arguments(self, parser):
        parser.add_argument("--account-id", required=True)
        for option, (_, kind, help_text) in OPTIONS.items():
            parser.add_argument(f"--{option.replace('_', '-')}", dest=option, type=kind, help=help_text)
        parser.add_argument("--reset", action="store_true", help="Switch every fault off first.")
        parser.add_argument("--json", action="store_true", help="Print a JSON document instead of text.")

    def handle(self, *args, **options):
        account = CrmAccount.objects.filter(account_id=options["account_id"]).first()
        if account is None:
            raise CommandError(f"No sandbox CRM account {options['account_id']!r}: create it with sandbox_crm_account.")
        changes = {field: options[option] for option, (field, _, _) in OPTIONS.items() if options[option] is not None}
        try:
            if changes or options["reset"]:
                fault = services.fault_set(account=account, changes=changes, reset=options["reset"])
            else:
                fault = services.fault_for(account=account)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        state = services.fault_as_dict(fault)
        if options["json"]:
            self.stdout.write(json.dumps({"account_id": account.account_id, "faults": state}, indent=2))
            return
        self.stdout.write(f"Fault switches of {account.account_id}:")
        for name, value in state.items():
            self.stdout.write(f"  {name} = {value!r}")
