"""Token health (LGF-002 … LGF-007): the heartbeat, expiry detection, permission checks and the
alerts the admin shows. Nothing here stops on a transient error: a heartbeat that cannot reach
LinkedIn records that and leaves the connection as it was."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Length
from django.utils import timezone

from connectors.clients import linkedin_oauth
from connectors.exceptions import ApiError, Forbidden, NeedsReauthorization, Unauthorized
from connectors.models import LinkedInConnection
from connectors.permissions import permission_problems
from connectors.tokens import connection_mark_needs_reauth, connection_refresh, linkedin_client

logger = logging.getLogger(__name__)

def _member_roles(client):
    return [acl.get("role") for acl in client.organization_acls() if acl.get("state", "APPROVED") == "APPROVED"]


def connection_heartbeat(*, connection: LinkedInConnection) -> dict:
    """Check one connection now (LGF-002): refresh ahead of expiry (LGF-005), introspect the token
    (expired / revoked, LGF-003), make a member call, re-check scopes and roles (LGF-007), and
    record the result and time. A connection whose tokens cannot be renewed is flagged as needing
    re-authorisation (LGF-004/006) and the admins are e-mailed once."""
    now = timezone.now()
    result = {"name": connection.name, "ok": False, "status": connection.status, "refreshed": False,
              "problems": [], "error": ""}
    before = connection.last_refreshed_at
    try:
        if connection.status != LinkedInConnection.Status.ACTIVE:
            raise NeedsReauthorization(connection.last_error or "the connection needs re-authorisation")
        client = linkedin_client(connection)  # refreshes when the token is about to expire
        if settings.LINKEDIN_CLIENT_ID and settings.LINKEDIN_CLIENT_SECRET:
            info = linkedin_oauth().introspect(connection.access_token)
            if info.status != "active" or not info.active:
                # Expired or revoked access token: a refresh token may still mint a new one.
                connection_refresh(connection=connection, failed_token=connection.access_token)
                info = linkedin_oauth().introspect(connection.access_token)
                if info.status != "active":
                    raise Unauthorized(f"LinkedIn reports the token as {info.status} even after a refresh",
                                       reason=info.status)
                client = linkedin_client(connection)
            if info.scopes:
                connection.scopes = list(info.scopes)
            if info.expires_at:
                connection.access_token_expires_at = info.expires_at
        scopes = set(connection.scopes or [])
        if not scopes or {"openid", "profile"} <= scopes:
            try:
                member = client.userinfo()
                connection.member_name = member.get("name") or connection.member_name
            except Forbidden:
                pass
        roles = None
        if "r_organization_admin" in scopes:
            try:
                roles = _member_roles(client)
            except Forbidden:
                roles = None
        connection.permission_problems = permission_problems(connection.scopes, roles=roles)
        connection.last_heartbeat_ok = True
        connection.last_error = ""
        result.update(ok=True, problems=connection.permission_problems)
    except NeedsReauthorization as exc:
        connection.last_heartbeat_ok = False
        result["error"] = str(exc)
    except Unauthorized as exc:
        connection_mark_needs_reauth(connection=connection, reason=f"LinkedIn refused the token ({exc.message}).")
        connection.last_heartbeat_ok = False
        result["error"] = connection.last_error
    except ApiError as exc:  # LinkedIn unreachable or failing: not the token's fault
        connection.last_heartbeat_ok = False
        connection.last_error = f"heartbeat could not reach LinkedIn: {exc}"
        result["error"] = connection.last_error
    connection.last_heartbeat_at = now
    LinkedInConnection.objects.filter(pk=connection.pk).update(
        last_heartbeat_at=now, last_heartbeat_ok=connection.last_heartbeat_ok,
        permission_problems=connection.permission_problems, scopes=connection.scopes,
        access_token_expires_at=connection.access_token_expires_at, member_name=connection.member_name,
        **({"last_error": connection.last_error} if connection.status == LinkedInConnection.Status.ACTIVE else {}),
    )
    connection.refresh_from_db(fields=["status", "last_error", "last_refreshed_at"])
    result.update(status=connection.status, refreshed=connection.last_refreshed_at != before,
                  token=connection.token_state())
    if connection.status != LinkedInConnection.Status.ACTIVE:
        result["error"] = connection.last_error
    return result


def connections_heartbeat(*, name=None) -> list[dict]:
    qs = LinkedInConnection.objects.order_by("name")
    if name:
        qs = qs.filter(name=name)
    return [connection_heartbeat(connection=c) for c in qs]


def connection_alerts(connections=None, *, now=None) -> list[dict]:
    """What the admin banner says: connections that need re-authorisation (errors), tokens that
    will die soon without a way to renew them (warnings with a countdown), missing permissions."""
    now = now or timezone.now()
    soon = timedelta(days=settings.LEADSYNC_REAUTH_WARNING_DAYS)
    if connections is None:
        # Whether a refresh token exists, without loading (and decrypting) it.
        connections = (LinkedInConnection.objects.defer("access_token", "refresh_token")
                       .annotate(refresh_token_length=Length("refresh_token")).order_by("name"))
    alerts = []
    for c in connections:
        if c.status != LinkedInConnection.Status.ACTIVE:
            alerts.append({"level": "error", "connection": c.name, "reconnect": True,
                           "message": f"LinkedIn connection {c.name} needs re-authorisation: "
                                      f"{c.last_error or 'its tokens no longer work.'} "
                                      "Its syncs are stopped until it is connected again; no lead is lost."})
            continue
        has_refresh = c.refresh_token_length > 0 if hasattr(c, "refresh_token_length") else c.has_refresh_token
        # The token that ends the connection: the refresh token, or the access token when there is none.
        if has_refresh and c.refresh_token_expires_at:
            deadline, what, why = c.refresh_token_expires_at, "refresh token", ""
        elif not has_refresh and c.access_token_expires_at:
            deadline, what, why = c.access_token_expires_at, "access token", " and LinkedIn issued no refresh token"
        else:
            deadline = None
        if deadline is not None and deadline - now <= soon:
            days = max(0, (deadline - now).days)
            alerts.append({"level": "warning", "connection": c.name, "reconnect": True, "days": days,
                           "message": f"LinkedIn connection {c.name}: its {what} expires in {days} days "
                                      f"({deadline:%Y-%m-%d}){why}. Re-connect before then to keep leads flowing."})
        for problem in c.permission_problems or []:
            alerts.append({"level": "warning", "connection": c.name, "reconnect": True,
                           "message": f"LinkedIn connection {c.name} {problem}."})
    return alerts
