"""What changes connections and discovered data: saving checked credentials, refreshing tokens
under a row lock, loading the CRM field catalogue, discovering organizations, ad accounts,
events and forms. API calls go through the clients; nothing here imports `requests`."""

import logging
import time
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.crm.client import CrmClient
from connectors.http import RetryPolicy
from connectors.exceptions import ApiError, BadPayload, BadRequest, Forbidden, NotFound, OAuthError, Unauthorized
from connectors.linkedin.client import LinkedInClient, LinkedInOAuth
from connectors.linkedin.forms import parse_lead_form, parse_urn, parse_versioned_form_urn
from connectors.models import (
    CrmConnection,
    CrmField,
    LeadForm,
    LeadFormVersion,
    LinkedInConnection,
    LinkedInEvent,
    LinkedInOwner,
)
from connectors.permissions import LEAD_ROLES, permission_problems
from connectors.schedules import heartbeat_schedule_ensure

logger = logging.getLogger(__name__)

ORGANIC_LEAD_TYPES = ["EVENT", "COMPANY", "ORGANIZATION_PRODUCT"]


class NeedsReauthorization(Exception):
    """The connection's tokens can no longer be renewed: a person must connect LinkedIn again."""


class ConfigurationError(Exception):
    """A setting the operation needs is missing; the message says which."""


def _seconds_from_now(seconds, now):
    return now + timedelta(seconds=int(seconds)) if seconds else None


def retry_policy() -> RetryPolicy:
    """The one retry policy, tuned by LEADSYNC_RETRY_* settings."""
    return RetryPolicy(
        max_attempts=settings.LEADSYNC_RETRY_ATTEMPTS,
        base_delay=settings.LEADSYNC_RETRY_BASE_DELAY,
        max_delay=settings.LEADSYNC_RETRY_MAX_DELAY,
    )


# --- CRM --------------------------------------------------------------------------------------------

def crm_client(connection: CrmConnection, **kwargs) -> CrmClient:
    kwargs.setdefault("retry", retry_policy())
    return CrmClient(connection.api_url, account_id=connection.account_id, secret_key=connection.secret_key, **kwargs)


def crm_connection_save(*, name, account_id, secret_key, api_url=None) -> CrmConnection:
    """Create or update the CRM connection NAME after a real call proved the credentials work.
    Wrong credentials or an unreachable CRM raise (an ApiError) and change nothing. Then the
    field catalogue is loaded."""
    api_url = api_url or settings.LEADGEN_CRM_API_URL
    client = CrmClient(api_url, account_id=account_id, secret_key=secret_key, retry=retry_policy())
    client.check()
    connection, _ = CrmConnection.objects.update_or_create(
        name=name,
        defaults=dict(
            api_url=api_url, account_id=account_id, secret_key=secret_key,
            status=CrmConnection.Status.ACTIVE, last_checked_at=timezone.now(), last_error="",
        ),
    )
    crm_fields_load(connection=connection, client=client)
    return connection


def _to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes")


def crm_fields_load(*, connection: CrmConnection, client: CrmClient | None = None) -> int:
    """Replace the stored field catalogue with the CRM's (getFields). Returns the field count."""
    client = client or crm_client(connection)
    fields = client.get_fields()
    rows = []
    for field in fields:
        system_name = field.get("systemName")
        if not system_name:
            continue
        if str(field.get("isActive", "1")).strip() in ("0", "false", "False"):
            continue
        options = field.get("options")
        if isinstance(options, list):
            options = [o.get("value", o.get("label")) if isinstance(o, dict) else o for o in options]
        else:
            options = None
        rows.append(CrmField(
            connection=connection, system_name=system_name, label=field.get("label") or system_name,
            data_type=str(field.get("dataType") or ""), max_length=_to_int(field.get("dataLength")) or None,
            is_custom=_truthy(field.get("isCustom")), is_required=_truthy(field.get("isRequired")),
            options=options, crm_id=str(field.get("id") or ""),
        ))
    with transaction.atomic():
        connection.fields.all().delete()
        CrmField.objects.bulk_create(rows)
        connection.fields_loaded_at = timezone.now()
        connection.save(update_fields=["fields_loaded_at", "updated_at"])
    return len(rows)


def crm_field_catalogue(connection: CrmConnection) -> list[dict]:
    """The catalogue as the mapping engine wants it (CrmFieldInfo dicts)."""
    return [
        {"system_name": f.system_name, "label": f.label, "data_type": f.data_type, "max_length": f.max_length,
         "is_custom": f.is_custom, "is_required": f.is_required, "options": f.options}
        for f in connection.fields.all()
    ]


# --- LinkedIn tokens ---------------------------------------------------------------------------------

def linkedin_oauth() -> LinkedInOAuth:
    if not settings.LINKEDIN_CLIENT_ID or not settings.LINKEDIN_CLIENT_SECRET:
        raise ConfigurationError(
            "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET must be set (the LinkedIn app's credentials)."
        )
    return LinkedInOAuth.from_settings(retry=retry_policy())


def linkedin_connection_save_tokens(
    *, name=None, access_token, refresh_token=None, expires_in=None, refresh_expires_in=None, scopes=None
) -> LinkedInConnection:
    """Store a LinkedIn connection from tokens after checking them: introspection when the app's
    credentials are configured (state, expiry, scopes) and the member's userinfo (name). A token
    LinkedIn refuses raises and changes nothing.

    Which connection gets the tokens: the one called NAME when a name is given (`leadsync linkedin
    add NAME`: the headless way to re-authorise), else the one of the same LinkedIn member (the
    OAuth flow: re-connecting a member updates it, never duplicates it), else a new one named
    after the member."""
    now = timezone.now()
    granted, expires_at = list(scopes or []), _seconds_from_now(expires_in, now)
    if settings.LINKEDIN_CLIENT_ID and settings.LINKEDIN_CLIENT_SECRET:
        try:
            info = linkedin_oauth().introspect(access_token)
        except (OAuthError, ApiError) as exc:
            # Introspection is the app's call, not the member's: a server without it, or app
            # credentials it does not know, say nothing about this token. The member call decides.
            logger.warning("token introspection unavailable (%s); checking the token with a member call", exc)
        else:
            if not info.active or info.status != "active":
                raise Unauthorized(f"LinkedIn says this access token is {info.status or 'not active'}.",
                                   reason=info.status if info.status in ("expired", "revoked") else "invalid")
            granted = list(info.scopes) or granted
            expires_at = expires_at or info.expires_at
    client = LinkedInClient.from_settings(access_token=access_token, retry=retry_policy())
    member = {}
    try:
        member = client.userinfo()  # a refused token raises Unauthorized here: nothing is stored
    except Forbidden:
        try:
            me = client.me()  # no openid/profile scope: /v2/me still proves the token
            member = {"sub": me.get("id"), "name": " ".join(
                filter(None, [me.get("localizedFirstName"), me.get("localizedLastName")]))}
        except Forbidden:
            pass  # neither member call is allowed: the connection works, it has no name to show
    member_urn = f"urn:li:person:{member['sub']}" if member.get("sub") else ""
    roles = None
    if "r_organization_admin" in granted:
        try:
            roles = [acl.get("role") for acl in client.organization_acls() if acl.get("state", "APPROVED") == "APPROVED"]
        except Forbidden:
            roles = None
    defaults = dict(
        access_token=access_token,
        access_token_expires_at=expires_at,
        refresh_token=refresh_token or "",
        refresh_token_expires_at=_seconds_from_now(refresh_expires_in, now) if refresh_token else None,
        status=LinkedInConnection.Status.ACTIVE,
        authorized_at=now,
        last_error="",
        last_heartbeat_at=now,
        last_heartbeat_ok=True,
        reauth_notified_at=None,
        permission_problems=permission_problems(granted, roles=roles),
    )
    if granted:
        defaults["scopes"] = granted
    if member_urn:
        defaults["member_urn"] = member_urn
    if member.get("name"):
        defaults["member_name"] = member["name"]
    if member.get("email"):
        defaults["member_email"] = member["email"]
    with transaction.atomic():
        if name:
            connection = LinkedInConnection.objects.filter(name=name).first()
        else:
            connection = LinkedInConnection.objects.filter(member_urn=member_urn).first() if member_urn else None
        if connection is None:
            connection = LinkedInConnection(name=name or _unique_connection_name(member.get("name") or member_urn or "LinkedIn"))
        for field, value in defaults.items():
            setattr(connection, field, value)
        connection.save()
        heartbeat_schedule_ensure()
    return connection


def _unique_connection_name(base):
    name, n = base[:90], 1
    while LinkedInConnection.objects.filter(name=name).exists():
        n += 1
        name = f"{base[:90]} ({n})"
    return name


def linkedin_connection_save_tokenset(*, tokens, name=None) -> LinkedInConnection:
    """Store the tokens of a finished OAuth exchange (see linkedin_connection_save_tokens)."""
    return linkedin_connection_save_tokens(
        name=name, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in, refresh_expires_in=tokens.refresh_token_expires_in, scopes=tokens.scopes,
    )


def connection_mark_needs_reauth(*, connection: LinkedInConnection, reason: str) -> None:
    """Flag the connection (its syncs stop cleanly) and e-mail the admins once per incident."""
    from connectors.notifications import notify_needs_reauth

    LinkedInConnection.objects.filter(pk=connection.pk).update(
        status=LinkedInConnection.Status.NEEDS_REAUTH, last_error=reason, updated_at=timezone.now()
    )
    connection.status, connection.last_error = LinkedInConnection.Status.NEEDS_REAUTH, reason
    logger.warning("LinkedIn connection %s needs re-authorisation: %s", connection.name, reason)
    notify_needs_reauth(connection)


REFRESH_LEASE = timedelta(seconds=60)
REFRESH_WAIT = timedelta(seconds=30)


def _refresh_claim(connection, failed_token):
    """Claim the right to spend the refresh token, in a short transaction under a row lock.
    Returns ("done", token) when another worker already renewed it, ("busy", None) while another
    worker holds the claim, ("claimed", row) when the caller must refresh now."""
    with transaction.atomic():
        locked = LinkedInConnection.objects.select_for_update().get(pk=connection.pk)
        now = timezone.now()
        if failed_token is not None and locked.access_token != failed_token and not locked.access_token_expired(now):
            return "done", locked
        if locked.refreshing_until and locked.refreshing_until > now:
            return "busy", None
        locked.refreshing_until = now + REFRESH_LEASE
        locked.save(update_fields=["refreshing_until"])
        return "claimed", locked


def connection_refresh(*, connection: LinkedInConnection, failed_token: str | None = None, sleep=time.sleep) -> str:
    """Mint a new access token with the refresh token. Two workers never spend one refresh token:
    the first claims the connection (row lock, then a short lease so no transaction stays open
    during the HTTP call), the others wait for it and use the token it stored. Raises
    NeedsReauthorization (and flags the connection) when only a new consent can help."""
    deadline = timezone.now() + REFRESH_WAIT
    while True:
        outcome, locked = _refresh_claim(connection, failed_token)
        if outcome != "busy":
            break
        if timezone.now() >= deadline:
            raise NeedsReauthorization("Another worker has been renewing this LinkedIn token for too long; try again.")
        sleep(0.2)
    if outcome == "done":
        connection.access_token = locked.access_token
        return locked.access_token

    now = timezone.now()
    reason = None
    try:
        if not locked.refresh_token:
            reason = "The access token expired and LinkedIn issued no refresh token: connect the account again."
        elif locked.refresh_token_expired(now):
            reason = "The refresh token expired (365 days after consent): connect the account again."
        else:
            try:
                tokens = linkedin_oauth().refresh(locked.refresh_token)
            except OAuthError as exc:
                if not exc.reauthorize:
                    raise
                reason = f"LinkedIn refused the refresh token ({exc.message}): connect the account again."
            else:
                locked.access_token = tokens.access_token
                locked.access_token_expires_at = _seconds_from_now(tokens.expires_in, now)
                if tokens.refresh_token:
                    locked.refresh_token = tokens.refresh_token
                if tokens.refresh_token_expires_in:
                    # Refreshing never extends a refresh token's life (365 days from consent):
                    # rounding of `refresh_token_expires_in` must not move it later either.
                    reported = _seconds_from_now(tokens.refresh_token_expires_in, now)
                    current = locked.refresh_token_expires_at
                    locked.refresh_token_expires_at = min(reported, current) if current else reported
                if tokens.scopes:
                    locked.scopes = list(tokens.scopes)
                locked.last_refreshed_at = now
                locked.status = LinkedInConnection.Status.ACTIVE
                locked.last_error = ""
                locked.refreshing_until = None
                locked.save()
                for attr in ("access_token", "access_token_expires_at", "refresh_token", "refresh_token_expires_at",
                             "scopes", "last_refreshed_at", "status", "last_error"):
                    setattr(connection, attr, getattr(locked, attr))
                return locked.access_token
    finally:
        LinkedInConnection.objects.filter(pk=connection.pk).update(refreshing_until=None)
    connection_mark_needs_reauth(connection=connection, reason=reason)
    raise NeedsReauthorization(reason)


def linkedin_client(connection: LinkedInConnection, **kwargs) -> LinkedInClient:
    """An API client for the connection that refreshes ahead of expiry and once on a 401.
    Raises NeedsReauthorization for a connection that is flagged or cannot be renewed."""
    if connection.status != LinkedInConnection.Status.ACTIVE:
        raise NeedsReauthorization(
            connection.last_error or f"LinkedIn connection {connection.name} needs re-authorisation."
        )
    margin = timedelta(hours=settings.LEADSYNC_TOKEN_REFRESH_MARGIN_HOURS)
    expires = connection.access_token_expires_at
    if expires is not None and expires - margin <= timezone.now():
        if connection.refresh_token or connection.access_token_expired():
            connection_refresh(connection=connection, failed_token=connection.access_token)

    def refresh(failed_token):
        return connection_refresh(connection=connection, failed_token=failed_token)

    kwargs.setdefault("retry", retry_policy())
    return LinkedInClient.from_settings(access_token=connection.access_token, refresh=refresh, **kwargs)


# --- discovery ------------------------------------------------------------------------------------

def _localized(value):
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        localized = value.get("localized")
        if isinstance(localized, dict) and localized:
            preferred = value.get("preferredLocale") or {}
            key = "_".join(p for p in (preferred.get("language"), preferred.get("country")) if p)
            return localized.get(key) or next(iter(localized.values()))
    return ""


def _ms(value):
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=dt_timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _form_id_of(value):
    """A form id from an event's leadGenForm (a leadGenForm or versioned URN, a record or an id)."""
    if isinstance(value, dict):
        value = value.get("leadGenForm") or value.get("versionedLeadGenForm") or value.get("id")
    if value is None:
        return None
    text = str(value)
    if text.startswith("urn:li:versionedLeadGenForm") or text.startswith("urn:li:leadGenForm"):
        return parse_versioned_form_urn(text)[0]
    return text


def _read_each(owners, stage, fetch, report, warnings):
    """(owner, elements) for each owner, with progress; an owner LinkedIn refuses (a missing scope
    or role) becomes a warning and discovery goes on with the others."""
    for done, owner in enumerate(owners, 1):
        report(stage, done - 1, len(owners))
        try:
            elements = fetch(owner.urn)
        except Forbidden as exc:
            warnings.append(f"{stage} of {owner} not read: {exc.message}")
            continue
        yield owner, elements
    report(stage, len(owners), len(owners))


def linkedin_discover(*, connection: LinkedInConnection, progress=None) -> dict:
    """Find what the member can sync (LGF-101 … LGF-103): organizations where the member is an
    ADMINISTRATOR or LEAD_GEN_FORMS_MANAGER, the ad accounts they can see, each organization's
    events (and which carry a lead gen form), and every form of every owner with all its
    questions, hidden fields and consents, stored as a version. Idempotent: running it again
    updates what it found. A missing scope for one kind (e.g. no r_ads) is reported in the
    summary's `warnings` and the rest still runs. `progress(stage, done, total)` is called as it goes."""
    report = progress or (lambda *args: None)
    client = linkedin_client(connection)
    warnings = []
    now = timezone.now()

    report("organizations", 0, None)
    roles = {}
    for acl in client.organization_acls():
        role, urn = acl.get("role"), acl.get("organization")
        if acl.get("state", "APPROVED") != "APPROVED" or role not in LEAD_ROLES or not urn:
            continue
        if roles.get(urn) != "ADMINISTRATOR":
            roles[urn] = role
    names = client.organizations(list(roles)) if roles else {}
    owners = []
    for urn, role in roles.items():
        record = names.get(parse_urn(urn)[1], {})
        owner, _ = LinkedInOwner.objects.update_or_create(
            connection=connection, urn=urn,
            defaults=dict(kind=LinkedInOwner.Kind.ORGANIZATION, name=_localized(record.get("localizedName") or record.get("name")) or urn,
                          role=role, can_read_leads=True, discovered_at=now),
        )
        owners.append(owner)
    report("organizations", len(owners), len(owners))

    report("ad accounts", 0, None)
    try:
        accounts = client.ad_accounts()
    except Forbidden as exc:
        accounts = []
        warnings.append(f"ad accounts not read: {exc.message}")
    for account in accounts:
        if account.get("id") is None:
            continue
        urn = f"urn:li:sponsoredAccount:{account['id']}"
        org = ((account.get("referenceInfo") or {}).get("organization") or {})
        owner, _ = LinkedInOwner.objects.update_or_create(
            connection=connection, urn=urn,
            defaults=dict(kind=LinkedInOwner.Kind.SPONSORED_ACCOUNT, name=account.get("name") or urn,
                          role=account.get("status", ""), can_read_leads=True, discovered_at=now,
                          organization_urn=f"urn:li:organization:{org['id']}" if org.get("id") else ""),
        )
        owners.append(owner)
    report("ad accounts", len(accounts), len(accounts))

    form_events = {}
    event_count = 0
    organizations = [o for o in owners if o.kind == LinkedInOwner.Kind.ORGANIZATION]
    for owner, events in _read_each(organizations, "events", client.events, report, warnings):
        for element in events:
            event_id = element.get("id")
            if event_id is None:
                continue
            urn = str(event_id) if str(event_id).startswith("urn:") else f"urn:li:event:{event_id}"
            time_range = element.get("timeRangeV2") or element.get("timeRange") or {}
            form_ref = element.get("leadGenForm") or element.get("leadGenFormUrn")
            event, _ = LinkedInEvent.objects.update_or_create(
                owner=owner, urn=urn,
                defaults=dict(name=_localized(element.get("name")), starts_at=_ms(time_range.get("startAt") or time_range.get("start")),
                              ends_at=_ms(time_range.get("endsAt") or time_range.get("end")),
                              lead_form_urn=str(form_ref) if isinstance(form_ref, str) else "", discovered_at=now),
            )
            event_count += 1
            form_id = _form_id_of(form_ref)
            if form_id:
                form_events[(owner.pk, form_id)] = event

    form_count = question_count = 0
    for owner, elements in _read_each(owners, "forms", client.lead_forms, report, warnings):
        for element in elements:
            try:
                definition = parse_lead_form(element)
            except BadPayload as exc:
                warnings.append(f"a form of {owner} was skipped: {exc.message}")
                continue
            lead_types = ["SPONSORED"] if owner.kind == LinkedInOwner.Kind.SPONSORED_ACCOUNT else ORGANIC_LEAD_TYPES
            form, _ = LeadForm.objects.update_or_create(
                owner=owner, linkedin_id=definition["form_id"],
                defaults=dict(name=definition.get("name") or "", state=definition.get("state") or "",
                              lead_types=lead_types, current_version=definition.get("version"),
                              locale=definition.get("locale") or "", discovered_at=now,
                              event=form_events.get((owner.pk, definition["form_id"]))),
            )
            LeadFormVersion.objects.update_or_create(
                form=form, version=definition.get("version") or 1,
                defaults=dict(definition=definition, raw=element, fetched_at=now),
            )
            form_count += 1
            question_count += len(definition.get("questions", []))

    return {
        "organizations": len(organizations),
        "ad_accounts": len(owners) - len(organizations),
        "events": event_count,
        "events_with_forms": len(form_events),
        "forms": form_count,
        "questions": question_count,
        "warnings": warnings,
    }


def discovery_run(*, connection: LinkedInConnection, progress=None) -> dict:
    """linkedin_discover with its progress and outcome kept on the connection, for the admin."""
    def report(stage, done, total):
        status = f"running: {stage} {done}" + (f"/{total}" if total is not None else "")
        LinkedInConnection.objects.filter(pk=connection.pk).update(discovery_status=status[:255])
        if progress:
            progress(stage, done, total)

    try:
        summary = linkedin_discover(connection=connection, progress=report)
    except (ApiError, NeedsReauthorization) as exc:
        LinkedInConnection.objects.filter(pk=connection.pk).update(discovery_status=f"failed: {exc}"[:255])
        raise
    outcome = (f"found {summary['organizations']} organizations, {summary['ad_accounts']} ad accounts, "
               f"{summary['events']} events, {summary['forms']} forms")
    if summary["warnings"]:
        outcome += f" ({len(summary['warnings'])} warnings)"
    LinkedInConnection.objects.filter(pk=connection.pk).update(discovery_status=outcome[:255], discovered_at=timezone.now())
    return summary


def lead_form_version_fetch(*, client, form: LeadForm, version: int) -> dict | None:
    """Fetch, store and return the definition of an earlier version of `form` that a lead
    answered: multiple-choice option ids only mean something in their own version. None when
    LinkedIn will not give it (the caller reads the lead with the newest version instead)."""
    try:
        element = client.lead_form_version(form.linkedin_id, version)
        definition = parse_lead_form(element)
    except (NotFound, BadRequest, Forbidden, BadPayload) as exc:
        logger.info("form %s version %s not available (%s); the newest version is used", form.linkedin_id, version, exc)
        return None
    definition["version"] = version
    LeadFormVersion.objects.update_or_create(form=form, version=version,
                                             defaults=dict(definition=definition, raw=element, fetched_at=timezone.now()))
    return definition
