"""Fault switches and sandbox settings: one row, changed from the admin, the `_faults` endpoint or the
`sandbox_linkedin_fault` command, all through `settings_update` so the three behave the same.

Counters are spent with a conditional UPDATE, so concurrent calls never spend one ticket twice and a
test knows exactly which call fails.
"""

from dataclasses import dataclass

from django.db.models import F, Q
from django.utils import timezone

from sandbox import db as sandbox_db
from .models import AccessToken, BadAnswer, Member, RefreshToken, SandboxSettings

SETTABLE = {
    "auto_approve": bool,
    "throttle_remaining": int,
    "throttle_retry_after": int,
    "server_errors_remaining": int,
    "server_error_status": int,
    "bad_answers_remaining": int,
    "bad_answer_kind": str,
    "access_token_lifetime": int,
    "refresh_token_lifetime": int,
    "short_pages": bool,
    "page_size_cap": int,
    "validate_webhooks": bool,
}
NULLABLE = {"throttle_retry_after", "access_token_lifetime", "refresh_token_lifetime", "page_size_cap"}
ALIASES = {"throttle": "throttle_remaining", "retry_after": "throttle_retry_after",
           "server_errors": "server_errors_remaining", "server_error": "server_errors_remaining",
           "bad_answers": "bad_answers_remaining"}
DEFAULTS = {
    "auto_approve": False, "throttle_remaining": 0, "throttle_retry_after": None, "server_errors_remaining": 0,
    "server_error_status": 500, "bad_answers_remaining": 0, "bad_answer_kind": BadAnswer.TRUNCATED,
    "access_token_lifetime": None, "refresh_token_lifetime": None,
    "short_pages": True, "page_size_cap": None, "validate_webhooks": False,
}


@dataclass(frozen=True)
class Fault:
    kind: str  # "throttle", "server_error" or "bad_answer"
    status: int
    retry_after: int | None = None
    bad_answer: str | None = None  # a BadAnswer kind


def fault_consume():
    """The fault this API call must answer with, spending one ticket; None when all is well."""
    qs = SandboxSettings.objects.filter(pk=1)
    # Nearly every call finds all counters at zero: one read says so, instead of three UPDATEs matching nothing.
    armed = Q(throttle_remaining__gt=0) | Q(server_errors_remaining__gt=0) | Q(bad_answers_remaining__gt=0)
    if not qs.filter(armed).exists():
        return None
    if qs.filter(throttle_remaining__gt=0).update(throttle_remaining=F("throttle_remaining") - 1):
        return Fault("throttle", 429, SandboxSettings.load().throttle_retry_after)
    if qs.filter(server_errors_remaining__gt=0).update(server_errors_remaining=F("server_errors_remaining") - 1):
        return Fault("server_error", SandboxSettings.load().server_error_status)
    if qs.filter(bad_answers_remaining__gt=0).update(bad_answers_remaining=F("bad_answers_remaining") - 1):
        return Fault("bad_answer", 200, bad_answer=SandboxSettings.load().bad_answer_kind)
    return None


def page_size_cap():
    return SandboxSettings.load().page_size_cap


def short_pages():
    return SandboxSettings.load().short_pages


def paging_switches():
    """(short_pages, page_size_cap) from one read of the switchboard, for the lead finder."""
    board = SandboxSettings.load()
    return board.short_pages, board.page_size_cap


def settings_as_dict(obj=None):
    obj = obj or SandboxSettings.load()
    return {name: getattr(obj, name) for name in SETTABLE}


def _coerce(name, value):
    if value is None:
        if name not in NULLABLE:
            raise ValueError(f"{name} cannot be null")
        return None
    kind = SETTABLE[name]
    if name == "bad_answer_kind":
        if value not in BadAnswer.values:
            raise ValueError(f"bad_answer_kind must be one of {', '.join(BadAnswer.values)}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    if name == "server_error_status" and not 500 <= value <= 599:
        raise ValueError("server_error_status must be a 5xx status")
    if name in NULLABLE and value == 0:
        return None
    return value


@sandbox_db.atomic
def settings_update(*, changes):
    """Apply a dict of changes and one-shot actions; returns {"settings": …, "done": [what happened]}.

    Keys: any SETTABLE name (or its alias: throttle, retry_after, server_errors, bad_answers), "reset" (all switches
    back to defaults), "expire_access_tokens" (true: every access token expires now), and "revoke":
    {"member": id or person id, "access": bool, "refresh": bool}. Unknown keys raise ValueError.
    """
    obj = SandboxSettings.objects.select_for_update().get(pk=SandboxSettings.load().pk)
    done = []
    changes = dict(changes)
    if changes.pop("reset", False):
        for name, value in DEFAULTS.items():
            setattr(obj, name, value)
        done.append("switches reset to defaults")
    expire = changes.pop("expire_access_tokens", False)
    revoke = changes.pop("revoke", None)
    for key, value in changes.items():
        name = ALIASES.get(key, key)
        if name not in SETTABLE:
            raise ValueError(f"Unknown switch {key!r}; known: {', '.join(sorted([*SETTABLE, *ALIASES]))}")
        setattr(obj, name, _coerce(name, value))
        done.append(f"{name} = {getattr(obj, name)!r}")
    obj.save()
    if expire:
        done.append(f"{access_tokens_expire_all()} access tokens expired")
    if revoke:
        done.append(tokens_revoke_for_member(**_revoke_args(revoke)))
    return {"settings": settings_as_dict(obj), "done": done}


def _revoke_args(revoke):
    if not isinstance(revoke, dict) or "member" not in revoke:
        raise ValueError('revoke must be {"member": id or person id, "access": true, "refresh": true}')
    ref = str(revoke["member"])
    member = Member.objects.filter(person_id=ref).first() or (
        Member.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    )
    if member is None:
        raise ValueError(f"No sandbox member {ref!r}")
    return {"member": member, "access": bool(revoke.get("access", True)), "refresh": bool(revoke.get("refresh", True))}


def access_tokens_expire_all():
    """Every live access token expires now (refresh tokens keep working)."""
    now = timezone.now()
    return AccessToken.objects.filter(expires_at__gt=now, revoked_at__isnull=True).update(expires_at=now)


def tokens_revoke_for_member(*, member, access=True, refresh=True):
    """What a member does by removing the app from their LinkedIn settings (or half of it)."""
    now = timezone.now()
    parts = []
    if access:
        n = AccessToken.objects.filter(grant__member=member, revoked_at__isnull=True).update(revoked_at=now)
        parts.append(f"{n} access")
    if refresh:
        n = RefreshToken.objects.filter(grant__member=member, revoked_at__isnull=True).update(revoked_at=now)
        parts.append(f"{n} refresh")
    return f"revoked {' and '.join(parts) or 'no'} tokens of {member}"
