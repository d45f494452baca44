"""Discovery (LGF-101 … LGF-103): what the member can sync, read from LinkedIn and stored:
organizations and ad accounts, events, and every lead form with all its versions' fields."""

import logging
import re

from django.utils import timezone

from connectors.exceptions import ApiError, BadPayload, BadRequest, Forbidden, NeedsReauthorization, NotFound
from connectors.linkedin import urns
from connectors.linkedin.forms import localized, parse_lead_form
from connectors.linkedin.times import from_epoch_ms
from connectors.models import LeadForm, LeadFormVersion, LinkedInConnection, LinkedInEvent, LinkedInOwner
from connectors.permissions import LEAD_ROLES
from connectors.signals import form_version_stored
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


def _record(model, counts, *, lookup: dict, values: dict, now):
    """The row LinkedIn describes: created, or updated in only what LinkedIn changed (a row seen
    again is no longer gone). Rediscovering what did not change writes nothing."""
    row = model.objects.filter(**lookup).first()
    if row is None:
        counts["created"] += 1
        return model.objects.create(**lookup, **values, discovered_at=now)
    values = {**values, "gone_at": None}
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if changed:
        counts["updated"] += 1
        for name in changed:
            setattr(row, name, values[name])
        row.save(update_fields=changed)
    return row


def _mark_gone(queryset, counts, now) -> None:
    """Rows LinkedIn no longer lists: marked gone with the time, never deleted (their leads,
    integrations and mappings stay)."""
    counts["gone"] += queryset.filter(gone_at__isnull=True).update(gone_at=now)


def _form_version_store(*, form: LeadForm, version: int, definition: dict, raw: dict, now) -> bool:
    """Store a version of the form unless it is stored as it is; True when it is new (and then
    connectors.signals.form_version_stored is sent, after the row is saved)."""
    row, created = LeadFormVersion.objects.get_or_create(
        form=form, version=version, defaults=dict(definition=definition, raw=raw, fetched_at=now))
    if not created and (row.definition != definition or row.raw != raw):
        row.definition, row.raw, row.fetched_at = definition, raw, now
        row.save(update_fields=["definition", "raw", "fetched_at"])
    if created:
        form_version_stored.send(sender=LeadForm, form=form, version=version)
    return created


def linkedin_discover(*, connection: LinkedInConnection, progress=None) -> dict:
    """Find what the member can sync (LGF-101 … LGF-103): organizations where the member is an
    ADMINISTRATOR or LEAD_GEN_FORMS_MANAGER, the ad accounts they can see, each organization's
    events (and which carry a lead gen form), and every form of every owner with all its
    questions, hidden fields and consents, stored as a version.

    Idempotent: running it again when LinkedIn changed nothing writes nothing; what LinkedIn
    changed is updated, and what it no longer lists is marked gone (`gone_at`), never deleted.
    Only what was read can be found gone: owners whose events or forms LinkedIn refused to list
    (a missing scope or role, reported in the summary's `warnings`) keep theirs as they were.
    `progress(stage, done, total)` is called as it goes."""
    report = progress or (lambda *args: None)
    client = linkedin_client(connection)
    warnings = []
    counts = {"created": 0, "updated": 0, "gone": 0}
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
        owners.append(_record(LinkedInOwner, counts, now=now, lookup=dict(connection=connection, urn=urn), values=dict(
            kind=LinkedInOwner.Kind.ORGANIZATION, name=_text(record.get("localizedName") or record.get("name")) or urn,
            role=role, can_read_leads=True)))
    mine = LinkedInOwner.objects.filter(connection=connection)
    _mark_gone(mine.filter(kind=LinkedInOwner.Kind.ORGANIZATION).exclude(urn__in=roles), counts, now)
    report("organizations", len(owners), len(owners))

    report("ad accounts", 0, None)
    try:
        accounts = [a for a in client.ad_accounts() if a.get("id") is not None]
    except Forbidden as exc:
        accounts = None
        warnings.append(f"ad accounts not read: {exc.message}")
    for account in accounts or []:
        urn = urns.make_urn(urns.SPONSORED_ACCOUNT, account["id"])
        org = ((account.get("referenceInfo") or {}).get("organization") or {})
        owners.append(_record(LinkedInOwner, counts, now=now, lookup=dict(connection=connection, urn=urn), values=dict(
            kind=LinkedInOwner.Kind.SPONSORED_ACCOUNT, name=account.get("name") or urn,
            role=account.get("status", ""), can_read_leads=True,
            organization_urn=urns.make_urn(urns.ORGANIZATION, org["id"]) if org.get("id") else "")))
    if accounts is not None:
        seen = [o.urn for o in owners if o.kind == LinkedInOwner.Kind.SPONSORED_ACCOUNT]
        _mark_gone(mine.filter(kind=LinkedInOwner.Kind.SPONSORED_ACCOUNT).exclude(urn__in=seen), counts, now)
    report("ad accounts", len(accounts or []), len(accounts or []))
    # What hangs below an owner that is gone is gone too.
    gone_owners = mine.filter(gone_at__isnull=False)
    _mark_gone(LinkedInEvent.objects.filter(owner__in=gone_owners), counts, now)
    _mark_gone(LeadForm.objects.filter(owner__in=gone_owners), counts, now)

    form_events = {}
    event_count = 0
    organizations = [o for o in owners if o.kind == LinkedInOwner.Kind.ORGANIZATION]
    for owner, events in _read_each(organizations, "events", client.events, report, warnings):
        seen = []
        for element in events:
            event_id = element.get("id")
            if event_id is None:
                continue
            urn = str(event_id) if str(event_id).startswith("urn:") else urns.make_urn(urns.EVENT, event_id)
            time_range = element.get("timeRangeV2") or element.get("timeRange") or {}
            form_ref = element.get("leadGenForm") or element.get("leadGenFormUrn")
            event = _record(LinkedInEvent, counts, now=now, lookup=dict(owner=owner, urn=urn), values=dict(
                name=_text(element.get("name")),
                starts_at=from_epoch_ms(time_range.get("startAt") or time_range.get("start")),
                ends_at=from_epoch_ms(time_range.get("endsAt") or time_range.get("end")),
                lead_form_urn=str(form_ref) if isinstance(form_ref, str) else ""))
            seen.append(urn)
            event_count += 1
            form_id = urns.form_id_of(form_ref)
            if form_id:
                form_events[(owner.pk, form_id)] = event
        _mark_gone(owner.events.exclude(urn__in=seen), counts, now)

    form_count = question_count = 0
    for owner, elements in _read_each(owners, "forms", client.lead_forms, report, warnings):
        seen = []
        for element in elements:
            try:
                definition = parse_lead_form(element)
            except BadPayload as exc:
                warnings.append(f"a form of {owner} was skipped: {exc.message}")
                if isinstance(element, dict) and element.get("id") is not None:
                    seen.append(str(element["id"]))  # unreadable is not gone
                continue
            form = _record(LeadForm, counts, now=now, lookup=dict(owner=owner, linkedin_id=definition["form_id"]),
                           values=dict(name=definition.get("name") or "", state=definition.get("state") or "",
                                       lead_types=owner.lead_types(), current_version=definition.get("version"),
                                       locale=definition.get("locale") or "",
                                       event=form_events.get((owner.pk, definition["form_id"]))))
            _form_version_store(form=form, version=definition.get("version") or 1, definition=definition,
                                raw=element, now=now)
            seen.append(form.linkedin_id)
            form_count += 1
            question_count += len(definition.get("questions", []))
        _mark_gone(owner.forms.exclude(linkedin_id__in=seen), counts, now)

    return {
        "organizations": len(organizations),
        "ad_accounts": len(owners) - len(organizations),
        "events": event_count,
        "events_with_forms": len(form_events),
        "forms": form_count,
        "questions": question_count,
        "changes": counts,
        "warnings": warnings,
    }


RUNNING, FAILED = "running: ", "failed: "
_RUNNING_COUNTS = re.compile(r"^(?P<stage>.*) (?P<done>\d+)(?:/(?P<total>\d+))?$")


def discovery_progress(*, connection: LinkedInConnection) -> dict:
    """The connection's discovery as the admin's live bar shows it, read back from the status that
    discovery_run writes (below): state running / failed / finished / none, the stage and its
    counts (`percent` None while no total is known)."""
    status = connection.discovery_status or ""
    progress = {"run": connection.pk, "state": "none", "stage": "", "done": None, "total": None, "percent": None,
                "finished": True, "text": status or "not run yet"}
    if status.startswith(RUNNING):
        progress.update(state="running", finished=False)
        match = _RUNNING_COUNTS.match(status[len(RUNNING):])
        if match:
            done, total = int(match["done"]), int(match["total"]) if match["total"] else None
            progress.update(stage=match["stage"], done=done, total=total)
            if total:
                progress["percent"] = min(100, int(done * 100 / total))
    elif status.startswith(FAILED):
        progress.update(state="failed")
    elif status:
        progress.update(state="succeeded", percent=100)
    return progress


def discovery_run(*, connection: LinkedInConnection, progress=None) -> dict:
    """linkedin_discover with its progress and outcome kept on the connection, for the admin
    (discovery_progress reads it back)."""
    def report(stage, done, total):
        status = f"{RUNNING}{stage} {done}" + (f"/{total}" if total is not None else "")
        LinkedInConnection.objects.filter(pk=connection.pk).update(discovery_status=status[:255])
        if progress:
            progress(stage, done, total)

    try:
        summary = linkedin_discover(connection=connection, progress=report)
    except (ApiError, NeedsReauthorization) as exc:
        LinkedInConnection.objects.filter(pk=connection.pk).update(discovery_status=f"{FAILED}{exc}"[:255])
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
    _form_version_store(form=form, version=version, definition=definition, raw=element, now=timezone.now())
    return definition
