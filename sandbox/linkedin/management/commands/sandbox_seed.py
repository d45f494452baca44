"""python manage.py sandbox_seed [--leads N] [--days 120] [--seed 42] [--unique-people] [--reset] [--json]
[--token-file PATH] [--scopes "r_ads openid …"] [--owners N --forms M [--form-leads K]]"""

import json
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.linkedin.seed import seed
from sandbox.linkedin.tokens import KNOWN_SCOPES, LEAD_SYNC_SCOPES


class Command(BaseCommand):
    help = (
        "Seed the LinkedIn sandbox (members, pages, ad accounts, events, forms, leads) and print an access and "
        "refresh token for Alex Admin with every lead sync scope. Deterministic and idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=300, help="Number of leads to ensure (default 300).")
        parser.add_argument("--days", type=int, default=120, help="Spread leads over this many past days.")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (same seed, same data).")
        parser.add_argument("--unique-people", action="store_true",
                            help="Every lead is its own person, with e-mail addresses no other lead has (by default "
                            "people submit more than once and share e-mails). Ids, forms and times are unchanged.")
        parser.add_argument("--reset", action="store_true", help="Wipe all LinkedIn sandbox data first.")
        parser.add_argument("--scopes", help="Scopes of the printed token, space- or comma-separated (default: every "
                            "lead sync scope). Authorising Alex later with another set revokes it, as on LinkedIn.")
        parser.add_argument("--owners", type=int, default=0, help="Also this many extra owners for Alex (pages and "
                            "ad accounts, alternating), for scale tests (default none).")
        parser.add_argument("--forms", type=int, default=0, help="Published forms spread over the --owners, round "
                            "robin (default none).")
        parser.add_argument("--form-leads", type=int, default=0, help="Leads in each of those forms, a day or more "
                            "old (default none).")
        parser.add_argument("--json", action="store_true", help="Print a JSON document instead of text.")
        parser.add_argument("--token-file", help="Also write {access_token, refresh_token, expires_in, "
                            "refresh_expires_in} as JSON to this path.")

    def handle(self, *args, **options):
        if options["leads"] < 0 or options["days"] < 1:
            self.stderr.write("--leads must be >= 0 and --days >= 1")
            raise SystemExit(2)
        if min(options["owners"], options["forms"], options["form_leads"]) < 0 or (
                bool(options["owners"]) != bool(options["forms"])) or options["days"] < 2 and options["form_leads"]:
            self.stderr.write("--owners and --forms go together and must be >= 0, as must --form-leads "
                              "(which needs --days >= 2)")
            raise SystemExit(2)
        scopes = tuple(re.split(r"[\s,]+", options["scopes"].strip())) if options["scopes"] else LEAD_SYNC_SCOPES
        unknown = set(scopes) - KNOWN_SCOPES
        if unknown:
            raise CommandError(f"Unknown scopes: {', '.join(sorted(unknown))}")
        result = seed(leads=options["leads"], days=options["days"], seed=options["seed"],
                      reset_first=options["reset"], scopes=scopes, unique_people=options["unique_people"],
                      owners=options["owners"], forms=options["forms"], form_leads=options["form_leads"])
        tokens = result.tokens
        if options["token_file"]:
            Path(options["token_file"]).write_text(json.dumps({
                "access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                "expires_in": tokens["expires_in"], "refresh_expires_in": tokens["refresh_token_expires_in"],
            }, indent=2) + "\n")
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
            return
        summary = result.as_dict()
        self.stdout.write(self.style.SUCCESS(
            f"LinkedIn sandbox: {len(summary['organizations'])} organizations, {len(summary['ad_accounts'])} ad "
            f"accounts, {len(summary['events'])} events, {len(summary['forms'])} forms, {result.leads_total} leads "
            f"({result.leads_created} new, {summary['leads']['test']} test, {summary['leads']['guest']} guest)."
        ))
        self.stdout.write(f"Member: {result.member} ({result.member.urn}), client id {settings.LINKEDIN_CLIENT_ID!r}")
        for org in summary["organizations"]:
            self.stdout.write(f"  organization {org['id']} {org['name']}: {', '.join(org['alex_roles']) or '-'}")
        self.stdout.write(f"Access token ({tokens['expires_in']} s):  {tokens['access_token']}")
        self.stdout.write(f"Refresh token ({tokens['refresh_token_expires_in']} s): {tokens['refresh_token']}")
        self.stdout.write(f"Scopes: {tokens['scope']}")
        self.stdout.write(
            "Connect headlessly:\n  python manage.py leadsync linkedin add sandbox "
            f"--access-token {tokens['access_token']} --refresh-token {tokens['refresh_token']} "
            f"--expires-in {tokens['expires_in']} --refresh-expires-in {tokens['refresh_token_expires_in']}"
        )
