"""Discovery (LGF-101 … LGF-103): what the member can sync, read from LinkedIn and stored:
organizations and ad accounts, events, and every lead form with all its versions' fields."""

import logging

from django.utils import timezone

from connectors.exceptions import ApiError, BadPayload, BadRequest, Forbidden, NeedsReauthorization, NotFound
from connectors.linkedin import urns
from connectors.linkedin.forms import localized, parse_lead_form
from connectors.linkedin.times import from_epoch_ms
from connectors.models import LeadForm, LeadFormVersion, LinkedInConnection, LinkedInEvent, LinkedInOwner
from connectors.permissions import LEAD_ROLES
from connectors.tokens import linkedin_client

logger = logging.getLogger(__name__)


def _text(value) -> str:
    """A name as discovery stores it: a MultiLocaleString in its preferred locale, or ""."""
    try:
        return localized(value, None, what="name") or ""
    except BadPayload:
        return ""


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
        record = names.get(urns.parse_urn(urn)[1], {})
        owner, _ = LinkedInOwner.objects.update_or_create(
            connection=connection, urn=urn,
            defaults=dict(kind=LinkedInOwner.Kind.ORGANIZATION, name=_text(record.get("localizedName") or record.get("name")) or urn,
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
        urn = urns.make_urn(urns.SPONSORED_ACCOUNT, account["id"])
        org = ((account.get("referenceInfo") or {}).get("organization") or {})
        owner, _ = LinkedInOwner.objects.update_or_create(
            connection=connection, urn=urn,
            defaults=dict(kind=LinkedInOwner.Kind.SPONSORED_ACCOUNT, name=account.get("name") or urn,
                          role=account.get("status", ""), can_read_leads=True, discovered_at=now,
                          organization_urn=urns.make_urn(urns.ORGANIZATION, org["id"]) if org.get("id") else ""),
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
            urn = str(event_id) if str(event_id).startswith("urn:") else urns.make_urn(urns.EVENT, event_id)
            time_range = element.get("timeRangeV2") or element.get("timeRange") or {}
            form_ref = element.get("leadGenForm") or element.get("leadGenFormUrn")
            event, _ = LinkedInEvent.objects.update_or_create(
                owner=owner, urn=urn,
                defaults=dict(name=_text(element.get("name")), starts_at=from_epoch_ms(time_range.get("startAt") or time_range.get("start")),
                              ends_at=from_epoch_ms(time_range.get("endsAt") or time_range.get("end")),
                              lead_form_urn=str(form_ref) if isinstance(form_ref, str) else "", discovered_at=now),
            )
            event_count += 1
            form_id = urns.form_id_of(form_ref)
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
            lead_types = owner.lead_types()
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
