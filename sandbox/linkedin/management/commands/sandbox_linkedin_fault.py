"""python manage.py sandbox_linkedin_fault [--throttle N [--retry-after S]] [--server-errors N [--status 503]] [--bad-answers N [--bad-answer truncated|html]]
[--expire-access-tokens] [--revoke-member ID [--access-only | --refresh-only]] [--access-lifetime S]
[--refresh-lifetime S] [--short-pages on|off] [--page-size-cap N] [--auto-approve on|off] [--reset] [--json]"""

import json

from django.core.management.base import BaseCommand, CommandError

from sandbox.linkedin import switches


def on_off(value):
    if value not in ("on", "off"):
        raise ValueError("use on or off")
    return value == "on"


class Command(BaseCommand):
    help = "Show or change the LinkedIn sandbox's fault switches (same switches as the admin and POST _faults)."

    def add_arguments(self, parser):
        parser.add_argument("--throttle", type=int, metavar="N", help="Answer 429 to the next N API calls.")
        parser.add_argument("--retry-after", type=int, metavar="S", help="Retry-After seconds on those 429s (0: none).")
        parser.add_argument("--server-errors", type=int, metavar="N", help="Answer 5xx to the next N API calls.")
        parser.add_argument("--status", type=int, help="Status for those errors (default 500).")
        parser.add_argument("--bad-answers", type=int, metavar="N",
                            help="Answer the next N API calls with HTTP 200 and a body that is not JSON.")
        parser.add_argument("--bad-answer", choices=["truncated", "html"],
                            help="Those bodies: JSON cut off halfway (default) or an HTML page.")
        parser.add_argument("--expire-access-tokens", action="store_true", help="Expire every access token now.")
        parser.add_argument("--revoke-member", metavar="ID", help="Revoke a member's tokens (id or person id).")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--access-only", action="store_true", help="With --revoke-member: access tokens only.")
        scope.add_argument("--refresh-only", action="store_true", help="With --revoke-member: refresh tokens only.")
        parser.add_argument("--access-lifetime", type=int, metavar="S",
                            help="New access tokens live S seconds (0: 60 days).")
        parser.add_argument("--refresh-lifetime", type=int, metavar="S",
                            help="New authorisations' refresh tokens live S seconds (0: 365 days).")
        parser.add_argument("--short-pages", type=on_off, metavar="on|off", help="Short leadFormResponses pages.")
        parser.add_argument("--page-size-cap", type=int, metavar="N", help="Cap `count` at N (0: no cap).")
        parser.add_argument("--auto-approve", type=on_off, metavar="on|off", help="Skip the consent page.")
        parser.add_argument("--reset", action="store_true", help="All switches back to their defaults first.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, **o):
        changes = {}
        if o["reset"]:
            changes["reset"] = True
        for option, name in [
            ("throttle", "throttle_remaining"), ("retry_after", "throttle_retry_after"),
            ("server_errors", "server_errors_remaining"), ("status", "server_error_status"),
            ("bad_answers", "bad_answers_remaining"), ("bad_answer", "bad_answer_kind"),
            ("access_lifetime", "access_token_lifetime"), ("refresh_lifetime", "refresh_token_lifetime"),
            ("short_pages", "short_pages"), ("page_size_cap", "page_size_cap"), ("auto_approve", "auto_approve"),
        ]:
            if o[option] is not None:
                changes[name] = o[option]
        if o["expire_access_tokens"]:
            changes["expire_access_tokens"] = True
        if o["revoke_member"]:
            changes["revoke"] = {"member": o["revoke_member"], "access": not o["refresh_only"],
                                 "refresh": not o["access_only"]}
        try:
            result = switches.settings_update(changes=changes)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if o["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for line in result["done"]:
            self.stdout.write(self.style.SUCCESS(line))
        for name, value in result["settings"].items():
            self.stdout.write(f"{name:26} {value}")
