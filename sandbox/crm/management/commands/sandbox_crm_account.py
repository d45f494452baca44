"""Create or update a sandbox CRM account from the shell (the demo and CI scripts run this)."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sandbox.crm import selectors, services
from sandbox.crm.standard_fields import CUSTOM_DATA_TYPES


def custom_field(value):
    label, sep, data_type = value.rpartition(":")
    if not sep or not label.strip() or data_type not in CUSTOM_DATA_TYPES:
        raise ValueError(value)
    return label.strip(), data_type


class Command(BaseCommand):
    help = (
        "Create or update a sandbox Lead Gen & CRM account with the standard lead fields and custom fields. "
        "Idempotent: running it again keeps existing fields and their systemNames."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account-id", required=True)
        parser.add_argument("--secret-key", required=True)
        parser.add_argument("--name")
        parser.add_argument(
            "--custom-field",
            action="append",
            type=custom_field,
            default=[],
            metavar="LABEL:TYPE",
            help=f"A custom lead field to have (TYPE: {', '.join(CUSTOM_DATA_TYPES)}); repeatable. "
            f"Without any: {', '.join(f'{label}:{kind}' for label, kind in services.DEFAULT_CUSTOM_FIELDS)}.",
        )
        parser.add_argument("--per-second-limit", type=int, help="Calls per second before error 107 (0: off).")
        parser.add_argument("--daily-limit", type=int, help="Calls per UTC day before error 106 (0: off).")
        parser.add_argument("--json", action="store_true", help="Print a JSON document instead of text.")

    def handle(self, *args, **options):
        try:
            account, created = services.account_provision(
                account_id=options["account_id"],
                secret_key=options["secret_key"],
                name=options["name"],
                custom_fields=options["custom_field"] or services.DEFAULT_CUSTOM_FIELDS,
                per_second_limit=options["per_second_limit"],
                daily_limit=options["daily_limit"],
            )
        except (ValidationError, services.ObjectError) as exc:
            raise CommandError(f"Could not set up the account: {exc}") from exc
        custom = selectors.fields_list(account=account, is_custom=True)
        if options["json"]:
            document = {
                "account_id": account.account_id,
                "name": account.name,
                "created": created,
                "per_second_limit": account.per_second_limit,
                "daily_limit": account.daily_limit,
                "custom_fields": [
                    {"label": f["label"], "systemName": f["systemName"], "dataType": f["dataType"]} for f in custom
                ],
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        self.stdout.write(f"{'Created' if created else 'Updated'} sandbox CRM account {account.account_id}.")
        for f in custom:
            self.stdout.write(f"  custom field {f['label']!r} ({f['dataType']}): {f['systemName']}")
