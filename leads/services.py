"""The pull/push pipeline: what moves leads from LinkedIn into the CRM.

Rules it keeps (design.md, "Rules the flow keeps"):
- a lead is committed locally, page by page, before anything is pushed; the watermark moves only
  after the whole window is committed, and every pull starts a little before it (the overlap);
- leads are unique on the LinkedIn response id, so re-pulling never doubles one, and a lead is
  pushed only while pending, so re-running never creates it twice in the CRM;
- the CRM has no idempotency key: a lead whose create answer was lost is looked up by e-mail
  before it is created again; a duplicate e-mail (301) becomes an update of the existing CRM lead;
- a bad field never blocks its lead and a rejected lead never blocks its batch (LGF-109/110);
- one sync per integration at a time (a lock row, renewed as the run goes).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from connectors.crm import schema
from connectors.crm.client import CrmClient
from connectors.exceptions import ApiError, BadPayload, HostError, ServerError, Unauthorized
from connectors.permissions import sync_blockers
from connectors.clients import crm_client, linkedin_oauth
from connectors.crm_connections import crm_field_catalogue
from connectors.discovery import lead_form_version_fetch
from connectors.exceptions import NeedsReauthorization
from connectors.tokens import connection_mark_needs_reauth, linkedin_client
from leads.models import Lead, LeadNotification, SyncRun
from leads.pipeline.locks import SyncBusy, integration_lock_acquire, integration_lock_release, integration_lock_renew
from connectors.linkedin.responses import form_reference, normalize_response
from mappings import engine
from mappings.models import Integration
from mappings.services import form_definition

logger = logging.getLogger(__name__)

MAX_BACKFILL_DAYS = 90
EMAIL_FIELDS = ("EMAIL", "WORK_EMAIL")


def _noop(*args, **kwargs):
    pass


# --- windows ------------------------------------------------------------------------------------

def sync_window(*, integration: Integration, days=None, since=None, now=None):
    """The [start, end) window of a pull. Explicit `days`/`since` (a backfill, LGF-107) win;
    otherwise from the watermark minus the overlap, or the last LEADSYNC_INITIAL_DAYS for a
    first run."""
    now = now or timezone.now()
    if days is not None:
        if not 1 <= days <= MAX_BACKFILL_DAYS:
            raise ValueError(f"--days must be between 1 and {MAX_BACKFILL_DAYS}.")
        return now - timedelta(days=days), now
    if since is not None:
        if since >= now:
            raise ValueError("--since must be in the past.")
        if since < now - timedelta(days=365):
            raise ValueError("--since can go back at most 365 days (LinkedIn keeps leads for a year).")
        return since, now
    if integration.watermark:
        return integration.watermark - timedelta(minutes=settings.LEADSYNC_PULL_OVERLAP_MINUTES), now
    return now - timedelta(days=settings.LEADSYNC_INITIAL_DAYS), now


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=dt_timezone.utc)


# --- pull ---------------------------------------------------------------------------------------

def _email_of(normalized: dict) -> str:
    found = ""
    for answer in normalized.get("answers", {}).values():
        if answer.get("predefined_field") in EMAIL_FIELDS and isinstance(answer.get("value"), str):
            if answer["predefined_field"] == "EMAIL" or not found:
                found = answer["value"].strip()
    return found[:254]


def _lead_row(integration: Integration, element: dict, normalized: dict) -> Lead:
    entity = normalized.get("associated_entity") or {}
    state = Lead.State.PENDING
    if normalized.get("test_lead") and not integration.include_test_leads:
        state = Lead.State.SKIPPED
    return Lead(
        integration=integration,
        linkedin_id=normalized["id"],
        form_version=normalized.get("form_version"),
        lead_type=normalized.get("lead_type") or "",
        submitted_at=_from_ms(normalized["submitted_at"]),
        test_lead=bool(normalized.get("test_lead")),
        submitter_urn=normalized.get("submitter_urn"),
        associated_entity_urn=entity.get("urn") or "",
        campaign_urn=normalized.get("campaign_urn") or "",
        email=_email_of(normalized),
        raw=element,
        answers=normalized,
        state=state,
        last_error="test lead: not pushed" if state == Lead.State.SKIPPED else "",
    )


def _normalize(elements, form_versions, where) -> tuple[list, int]:
    """[(element, normalised lead)] and the number of malformed leads, which are logged (without
    their personal data) and skipped."""
    pairs, malformed = [], 0
    for element in elements:
        try:
            pairs.append((element, normalize_response(element, form_versions)))
        except BadPayload as exc:
            malformed += 1
            logger.warning("%s: a malformed lead was skipped: %s", where, exc.message)
    return pairs, malformed


def _store(integration: Integration, pairs) -> dict:
    """Commit the integration's new leads of one page in one transaction. A lead LinkedIn already
    gave us is left alone; one LinkedIn said was deleted is never stored again (a page fetched
    before the deletion may arrive after it)."""
    counts = {"new": 0, "skipped": 0}
    rows = [_lead_row(integration, element, normalized) for element, normalized in pairs]
    if not rows:
        return counts
    deleted = set(LeadNotification.objects.filter(lead_id__in=[r.linkedin_id for r in rows],
                                                  action=LeadNotification.Action.DELETED).values_list("lead_id", flat=True))
    if deleted:
        counts["skipped"] += len(deleted)
        rows = [r for r in rows if r.linkedin_id not in deleted]
    with transaction.atomic():
        known = set(Lead.objects.filter(linkedin_id__in=[r.linkedin_id for r in rows]).values_list("linkedin_id", flat=True))
        fresh = {r.linkedin_id: r for r in rows if r.linkedin_id not in known}
        Lead.objects.bulk_create(fresh.values(), ignore_conflicts=True)
    counts["new"] = len(fresh)
    counts["skipped"] += sum(1 for r in fresh.values() if r.state == Lead.State.SKIPPED)
    return counts


def leads_store_page(*, integration: Integration, elements: list, form_versions) -> dict:
    """Normalise one page and commit the integration's new leads; leads of other forms are skipped."""
    pairs, malformed = _normalize(elements, form_versions, integration)
    mine = [(e, n) for e, n in pairs if n.get("form_id") in (None, integration.form.linkedin_id)]
    counts = _store(integration, mine)
    return {"pulled": len(elements), "new": counts["new"], "skipped": counts["skipped"] + len(pairs) - len(mine),
            "malformed": malformed}


class _FormVersions:
    """The stored versions of one integration's form, as the normaliser's lookup. `ensure` fetches
    a version a lead names that LeadSync has not seen (once per run, whatever LinkedIn answers)."""

    def __init__(self, integration: Integration):
        self.form = integration.form
        self.versions = {v.version: v.definition for v in self.form.versions.all()}
        self.tried = set()

    def __call__(self, form_id, version):
        if str(form_id) != self.form.linkedin_id or not self.versions:
            return None
        if version is None:
            return self.versions[max(self.versions)]
        return self.versions.get(version)

    def ensure(self, client, version):
        if version is None or version in self.versions or version in self.tried:
            return
        self.tried.add(version)
        definition = lead_form_version_fetch(client=client, form=self.form, version=version)
        if definition is not None:
            self.versions[version] = definition


def _form_versions_lookup(integration: Integration):
    return _FormVersions(integration)


def _token_really_dead(connection) -> bool:
    """A 401 right after a refresh can be LinkedIn's brief 65601 for a fresh token: ask
    introspection before declaring the connection dead. Without app credentials, trust the 401."""
    if not (settings.LINKEDIN_CLIENT_ID and settings.LINKEDIN_CLIENT_SECRET):
        return True
    try:
        info = linkedin_oauth().introspect(connection.access_token)
    except ApiError:
        return False
    return not info.active or info.status != "active"


@dataclass(eq=False)
class _Member:
    """One integration taking part in an owner's pull: its lead types, its run and its lock."""

    integration: Integration
    lead_types: list
    run: SyncRun
    token: str


def leads_pull(*, owner, members: list[_Member], progress=_noop) -> None:
    """Pull the members' windows with one finder query per lead type of the owner, page by page,
    committing each page (each lead to the integration of its form) before asking for the next.
    A token LinkedIn refuses (after the client's refresh-and-retry) flags the connection as
    needing re-authorisation and raises NeedsReauthorization: no watermark moves."""
    try:
        _pull(owner=owner, members=members, progress=progress)
    except Unauthorized as exc:
        if _token_really_dead(owner.connection):
            reason = f"LinkedIn refused the access token during a sync ({exc.message})."
            connection_mark_needs_reauth(connection=owner.connection, reason=reason)
            raise NeedsReauthorization(reason) from None
        raise


def _pull(*, owner, members: list[_Member], progress=_noop) -> None:
    client = linkedin_client(owner.connection)
    lookups = {m.integration.form.linkedin_id: _FormVersions(m.integration) for m in members}

    def form_versions(form_id, version):
        lookup = lookups.get(str(form_id))
        return lookup(form_id, version) if lookup else None

    start_ms = _ms(min(m.run.window_start for m in members))
    end_ms = _ms(max(m.run.window_end for m in members))
    lead_types = list(dict.fromkeys(t for m in members for t in m.lead_types))
    read = 0
    for lead_type in lead_types:
        takers = {m.integration.form.linkedin_id: m for m in members if lead_type in m.lead_types}
        for page in client.lead_form_responses(owner.urn, lead_type, start_ms=start_ms, end_ms=end_ms):
            for reference in filter(None, map(form_reference, page)):
                if reference[0] in lookups:
                    lookups[reference[0]].ensure(client, reference[1])
            pairs, malformed = _normalize(page, form_versions, owner)
            routed = {}
            for element, normalized in pairs:
                form_id = normalized.get("form_id")
                if form_id is None and len(takers) == 1:
                    form_id = next(iter(takers))  # a lead with no form reference: the only candidate
                member = takers.get(form_id)
                if member is not None:  # else: a form no integration here syncs
                    routed.setdefault(member, []).append((element, normalized))
            members[0].run.skipped += malformed
            for member, mine in routed.items():
                counts = _store(member.integration, mine)
                member.run.pulled += len(mine)
                member.run.new += counts["new"]
                member.run.skipped += counts["skipped"]
            read += len(page)
            for member in members:
                member.run.progress_done = member.run.pulled
                member.run.save(update_fields=["pulled", "new", "skipped", "progress_done"])
                integration_lock_renew(integration=member.integration, token=member.token)
            progress("pull", read, None)
    # The whole window is committed: watermarks may move, but only forward and only when the
    # window joins what was already covered (a backfill of an old window does not skip a gap).
    for member in members:
        integration, run = member.integration, member.run
        if integration.watermark is None or run.window_start <= integration.watermark:
            new_mark = max(filter(None, [integration.watermark, run.window_end]))
            Integration.objects.filter(pk=integration.pk).update(watermark=new_mark)
            integration.watermark = new_mark


# --- push ---------------------------------------------------------------------------------------

@dataclass
class PushCounts:
    created: int = 0
    updated: int = 0
    failed: int = 0

    def add(self, other):
        self.created += other.created
        self.updated += other.updated
        self.failed += other.failed


def _crm_error(result) -> str:
    message = f"CRM error {result.error_code}: {result.error_message}"
    return f"{message} ({result.error_detail})" if result.error_detail else message


class _Pusher:
    """Pushes batches of one integration's leads; keeps the mapping and catalogue loaded once."""

    def __init__(self, integration: Integration, client: CrmClient | None = None):
        self.integration = integration
        self.client = client or crm_client(integration.crm_connection)
        self.mappings = list(integration.mappings.all())
        self.catalogue = {f["system_name"]: f for f in crm_field_catalogue(integration.crm_connection)}
        self.form = form_definition(integration.form)
        custom = sum(1 for m in self.mappings if m.crm_field and self.catalogue.get(m.crm_field, {}).get("is_custom"))
        limit = schema.HEAVY_MAX_OBJECTS if custom > schema.HEAVY_CUSTOM_FIELDS else schema.MAX_OBJECTS
        self.batch_size = max(1, min(settings.LEADSYNC_CRM_BATCH_SIZE, limit))

    def push(self, leads: list[Lead]) -> PushCounts:
        """Push one batch. Oldest submission first, so when one person submitted several times
        the CRM ends with their newest answers."""
        counts = PushCounts()
        now = timezone.now()
        objects = {}
        leads = sorted(leads, key=lambda l: (l.submitted_at, l.pk))
        for lead in leads:
            mapped = engine.apply_mapping(lead.answers, self.mappings, self.catalogue, form=self.form)
            lead.field_outcomes = mapped.outcomes
            lead.attempts += 1
            lead.last_attempt_at = now
            if mapped.lead_error:
                self._fail(lead, mapped.lead_error, counts)
            else:
                objects[lead.pk] = mapped.crm_object
        sendable = [l for l in leads if l.pk in objects]
        # A CRM lead LeadSync already made or found for this e-mail on this CRM account is updated,
        # without asking the CRM (one lookup per e-mail would cost a call each at 10 calls/s).
        known = self._known_crm_ids({self._email(l, objects) for l in sendable if not l.crm_id})
        for lead in sendable:
            if not lead.crm_id and self._email(lead, objects) in known:
                lead.crm_id = known[self._email(lead, objects)]
        # A lead tried before without a known CRM id may have been created by a lost answer:
        # find it by e-mail rather than create it twice.
        uncertain = [l for l in sendable if not l.crm_id and l.attempts > 1]
        for lead, crm_id in self._find_by_email(uncertain, objects).items():
            lead.crm_id = crm_id
        # One create per e-mail in the batch; the person's later submissions update it.
        first, later = {}, []
        for lead in sendable:
            if not lead.crm_id:
                if self._email(lead, objects) in first:
                    later.append(lead)
                else:
                    first[self._email(lead, objects)] = lead
        duplicates = self._create(list(first.values()), objects, counts)
        found = self._find_by_email(duplicates, objects)
        for lead in duplicates:
            if lead in found:
                lead.crm_id = found[lead]
            else:
                self._fail(lead, "The CRM reports this e-mail as a duplicate (301) but no lead with it was found.", counts)
        for lead in later:
            lead.crm_id = first[self._email(lead, objects)].crm_id
        # Later submissions whose first one got no CRM lead (refused) are created on their own.
        for lead in self._create([l for l in later if not l.crm_id], objects, counts):
            self._fail(lead, "The CRM reports this e-mail as a duplicate (301) but refused the first lead with it.", counts)
        to_update = [l for l in sendable if l.crm_id and l.state != Lead.State.SYNCED and l.state != Lead.State.FAILED]
        missing = self._update(to_update, objects, counts)
        if missing:
            # updateLeadsV2 said 404: the CRM lead was deleted there; create it again.
            for lead in missing:
                lead.crm_id = ""
            for lead in self._create(missing, objects, counts):
                self._fail(lead, "The CRM refused both the update and the create of this lead.", counts)
        Lead.objects.bulk_update(
            leads, ["field_outcomes", "attempts", "last_attempt_at", "state", "crm_id", "last_error", "synced_at"]
        )
        return counts

    @staticmethod
    def _email(lead, objects):
        return objects[lead.pk]["emailAddress"].strip().lower()

    def _known_crm_ids(self, emails) -> dict:
        """{e-mail: CRM id} from leads already synced to this CRM account."""
        if not emails:
            return {}
        rows = (Lead.objects.filter(integration__crm_connection=self.integration.crm_connection, state=Lead.State.SYNCED)
                .exclude(crm_id="").annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
                .order_by("synced_at").values_list("email_lower", "crm_id"))
        return dict(rows)

    def _find_by_email(self, leads, objects) -> dict:
        """{lead: CRM id} for the leads whose e-mail the CRM already knows (getLeads by e-mail)."""
        if not leads:
            return {}
        found = self.client.get_leads_by_email({objects[l.pk]["emailAddress"] for l in leads})
        ids = {}
        for lead in leads:
            email = objects[lead.pk]["emailAddress"]
            match = found.get(email) or found.get(email.lower())
            if match and match.get("id"):
                ids[lead] = str(match["id"])
        return ids

    def _fail(self, lead, message, counts):
        lead.state = Lead.State.FAILED
        lead.last_error = message
        counts.failed += 1

    def _ok(self, lead, crm_id):
        lead.state = Lead.State.SYNCED
        lead.crm_id = crm_id or lead.crm_id
        lead.last_error = ""
        lead.synced_at = timezone.now()

    def _create(self, leads, objects, counts):
        """createLeads; returns the leads the CRM called duplicates (301)."""
        if not leads:
            return []
        try:
            results = self.client.create_leads([objects[l.pk] for l in leads])
        except (HostError, ServerError) as exc:
            for lead in leads:
                lead.last_error = (f"The CRM's answer to createLeads was lost ({exc.message}); the next push looks "
                                   "this lead up by e-mail before creating it.")
            Lead.objects.bulk_update(leads, ["attempts", "last_attempt_at", "last_error", "field_outcomes"])
            raise
        duplicates = []
        for lead, result in zip(leads, results):
            if result.success:
                self._ok(lead, result.id)
                counts.created += 1
            elif result.error_code == schema.ENTRY_EXISTS_CODE:
                duplicates.append(lead)
            else:
                self._fail(lead, _crm_error(result), counts)
        return duplicates

    def _update(self, leads, objects, counts):
        """updateLeadsV2 by CRM id; returns the leads whose CRM record no longer exists (404)."""
        if not leads:
            return []
        results = self.client.update_leads_v2([{**objects[l.pk], "id": l.crm_id} for l in leads])
        missing = []
        for lead, result in zip(leads, results):
            if result.success or result.error_code == schema.NO_ROWS_AFFECTED_CODE:
                self._ok(lead, lead.crm_id)
                counts.updated += 1
            elif result.error_code == schema.RECORD_NOT_FOUND_CODE:
                missing.append(lead)
            else:
                self._fail(lead, _crm_error(result), counts)
        return missing


def leads_push(*, integration: Integration, leads_qs=None, run: SyncRun | None = None, progress=_noop) -> PushCounts:
    """Push the integration's pending leads (or `leads_qs`) in batches of at most 500 (250 with
    many custom fields), oldest first. Each batch is recorded before the next is sent."""
    pusher = _Pusher(integration)
    qs = leads_qs if leads_qs is not None else integration.leads.filter(state=Lead.State.PENDING)
    qs = qs.order_by("pk")
    total = qs.count()
    if run is not None:
        run.progress_total, run.progress_done = total, 0
        run.save(update_fields=["progress_total", "progress_done"])
    counts, last_pk, done = PushCounts(), 0, 0
    while True:
        batch = list(qs.filter(pk__gt=last_pk)[: pusher.batch_size])
        if not batch:
            break
        last_pk = batch[-1].pk
        counts.add(pusher.push(batch))
        done += len(batch)
        if run is not None:
            run.created, run.updated, run.failed, run.progress_done = counts.created, counts.updated, counts.failed, done
            run.save(update_fields=["created", "updated", "failed", "progress_done"])
        progress("push", done, total)
    return counts


# --- the whole sync -------------------------------------------------------------------------------

def integration_sync(*, integration: Integration, trigger=SyncRun.Trigger.SCHEDULE, days=None, since=None,
                     progress=_noop) -> SyncRun:
    """Pull the integration's window and push what is pending (see integrations_sync); returns its
    run. Raises SyncBusy when another sync holds it."""
    return integrations_sync(integrations=[integration], trigger=trigger, days=days, since=since, progress=progress)[0]


def integrations_sync(*, integrations, trigger=SyncRun.Trigger.SCHEDULE, days=None, since=None, progress=_noop,
                      siblings=True) -> list[SyncRun]:
    """Sync integrations with one LinkedIn finder query per owner and lead type (design.md): the
    integrations of one organization or ad account share each page, every lead going to the
    integration of its form. With `siblings`, the owner's other active integrations that no sync
    holds join on their own regular window, so their next tick finds the work done.

    Each integration gets a SyncRun (returned for the requested ones, in order). Raises SyncBusy,
    before anything runs, when another sync holds a requested integration. Failures of a run
    (LinkedIn needs re-authorisation, an API that stays down) end it as failed with the reason;
    leads already committed stay and no watermark moves past what was pulled."""
    windows = {i.pk: sync_window(integration=i, days=days, since=since) for i in integrations}  # ValueError first
    held = {}
    try:
        for integration in integrations:
            held[integration.pk] = integration_lock_acquire(integration=integration)
    except SyncBusy:
        for integration in integrations:
            if integration.pk in held:
                integration_lock_release(integration=integration, token=held[integration.pk])
        raise
    by_owner = {}
    for integration in integrations:
        by_owner.setdefault(integration.form.owner_id, []).append(integration)
    runs = {}
    try:
        for group in by_owner.values():
            owner = group[0].form.owner
            if siblings:
                for sibling in (Integration.objects.filter(form__owner=owner, state=Integration.State.ACTIVE)
                                .exclude(pk__in=[i.pk for i in group])
                                .select_related("form__owner__connection", "crm_connection")):
                    try:
                        held[sibling.pk] = integration_lock_acquire(integration=sibling)
                    except SyncBusy:
                        continue
                    windows[sibling.pk] = sync_window(integration=sibling)
                    group.append(sibling)
            runs.update(_owner_sync(owner=owner, integrations=group, windows=windows, held=held, trigger=trigger,
                                    progress=progress))
    finally:
        # An owner whose sync crashed must not leave the next owners' integrations locked.
        for integration in integrations:
            if integration.pk not in runs:
                integration_lock_release(integration=integration, token=held[integration.pk])
    return [runs[i.pk] for i in integrations]


def _owner_sync(*, owner, integrations, windows, held, trigger, progress) -> dict:
    members, runs = [], {}
    now = timezone.now()
    for integration in integrations:
        start, end = windows[integration.pk]
        run = SyncRun.objects.create(integration=integration, trigger=trigger, state=SyncRun.State.RUNNING,
                                     started_at=now, window_start=start, window_end=end)
        runs[integration.pk] = run
        lead_types = integration.lead_types or integration.form.lead_types or ["SPONSORED"]
        blockers = sync_blockers(connection=owner.connection, owner=owner, lead_types=lead_types)
        if blockers:
            run.state, run.error = SyncRun.State.FAILED, f"not started: {'; '.join(blockers)}"
        else:
            members.append(_Member(integration=integration, lead_types=lead_types, run=run, token=held[integration.pk]))
    try:
        if members:
            try:
                leads_pull(owner=owner, members=members, progress=progress)
            except NeedsReauthorization as exc:
                _fail_all(members, f"LinkedIn connection needs re-authorisation: {exc}")
            except ApiError as exc:
                _fail_all(members, str(exc))
        for member in members:
            if member.run.state != SyncRun.State.RUNNING:
                continue
            integration_lock_renew(integration=member.integration, token=member.token)
            try:
                leads_push(integration=member.integration, run=member.run, progress=progress)
                member.run.state = SyncRun.State.SUCCEEDED
            except ApiError as exc:  # this integration's CRM: the others go on
                member.run.state, member.run.error = SyncRun.State.FAILED, str(exc)
    except Exception as exc:  # noqa: BLE001 - a run must never stay "running"
        logger.exception("sync of %s crashed", owner)
        _fail_all(members, f"internal error: {type(exc).__name__}: {exc}")
        raise
    finally:
        finished = timezone.now()
        for integration in integrations:
            run = runs[integration.pk]
            run.finished_at = finished
            run.save()
            Integration.objects.filter(pk=integration.pk).update(last_sync_at=finished)
            integration_lock_release(integration=integration, token=held[integration.pk])
    return runs


def _fail_all(members, error):
    for member in members:
        if member.run.state == SyncRun.State.RUNNING:
            member.run.state, member.run.error = SyncRun.State.FAILED, error


def leads_retry_failed(*, integration: Integration, lead_ids=None, progress=_noop) -> SyncRun:
    """Push the integration's failed leads (or only those of `lead_ids`) again, after a fix of the
    mapping or the data. Leads that are not failed are left alone."""
    token = integration_lock_acquire(integration=integration)
    run = SyncRun.objects.create(integration=integration, trigger=SyncRun.Trigger.RETRY,
                                 state=SyncRun.State.RUNNING, started_at=timezone.now())
    try:
        failed = integration.leads.filter(state=Lead.State.FAILED)
        if lead_ids is not None:
            failed = failed.filter(pk__in=lead_ids)
        ids = list(failed.values_list("pk", flat=True))
        failed.update(state=Lead.State.PENDING)
        leads_push(integration=integration, leads_qs=Lead.objects.filter(pk__in=ids), run=run, progress=progress)
        run.state = SyncRun.State.SUCCEEDED
    except ApiError as exc:
        run.state, run.error = SyncRun.State.FAILED, str(exc)
    finally:
        run.finished_at = timezone.now()
        run.save()
        integration_lock_release(integration=integration, token=token)
    return run
