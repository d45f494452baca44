"""Pulling leads from LinkedIn and committing them locally, page by page.

One store path serves the scheduled pull (one finder query per owner and lead type, each lead
going to the integration of its form) and the lead notification (one lead fetched by id):
`leads_store` parses a page against the form versions LeadSync knows, fetching a version a lead
names that it has not stored, and commits each integration's new leads in one transaction. A lead
LinkedIn gave before is left alone, a lead LinkedIn reported deleted is never stored again, and a
malformed lead is logged (without its personal data) and skipped: it never stops the page.
"""

import logging
from contextlib import closing
from dataclasses import dataclass, field
from typing import Callable

from django.conf import settings
from django.db import transaction

from connectors.clients import linkedin_oauth
from connectors.discovery import lead_form_version_fetch
from connectors.exceptions import ApiError, BadPayload, NeedsReauthorization, Unauthorized
from connectors.linkedin.responses import normalize_response
from connectors.linkedin.times import epoch_ms, from_epoch_ms
from connectors.models import LeadForm
from connectors.tokens import connection_mark_needs_reauth, linkedin_client
from leads.models import Lead, LeadNotification, SyncRun
from leads.pipeline.locks import IntegrationLock, locks_renew
from leads.pipeline.writes import new_row, query_log_clear, rows_insert, values_in
from mappings.models import Integration

logger = logging.getLogger(__name__)

EMAIL_FIELDS = ("EMAIL", "WORK_EMAIL")


class FormVersions:
    """The stored versions of some forms, as the lead parser's lookup (`normalize_response`). A
    version a lead names that LeadSync has not stored is fetched from LinkedIn the first time a
    lead asks for it (once per pull, whatever LinkedIn answers): multiple-choice option ids only
    mean something in their own version."""

    def __init__(self, forms: list[LeadForm], client):
        self.client = client
        self.forms = {form.linkedin_id: form for form in forms}
        self.versions = {form.linkedin_id: {v.version: v.definition for v in form.versions.all()} for form in forms}
        self.tried = set()

    def __call__(self, form_id, version):
        form_id = str(form_id)
        if form_id not in self.forms:
            return None
        known = self.versions[form_id]
        if version is not None and version not in known and (form_id, version) not in self.tried:
            self.tried.add((form_id, version))
            definition = lead_form_version_fetch(client=self.client, form=self.forms[form_id], version=version)
            if definition is not None:
                known[version] = definition
        if not known:
            return None
        return known[max(known)] if version is None else known.get(version)


# --- storing ------------------------------------------------------------------------------------

def email_of(normalized: dict) -> str:
    """The address a normalised lead gives (EMAIL before WORK_EMAIL), trimmed, as the email column keeps it."""
    found = ""
    for answer in normalized.get("answers", {}).values():
        if answer.get("predefined_field") in EMAIL_FIELDS and isinstance(answer.get("value"), str):
            if answer["predefined_field"] == "EMAIL" or not found:
                found = answer["value"].strip()
    return found[:254]


def _fit(value, field: str) -> str:
    """A text LinkedIn sent for a column, or "" when it is not text or longer than the column
    holds (what is kept of the lead in `raw` and `answers` is whole)."""
    limit = Lead._meta.get_field(field).max_length
    return value if isinstance(value, str) and len(value) <= limit else ""


def _version(value):
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def _lead_row(integration: Integration, element: dict, normalized: dict) -> Lead:
    entity = normalized.get("associated_entity") or {}
    state = Lead.State.PENDING
    if normalized.get("test_lead") and not integration.include_test_leads:
        state = Lead.State.SKIPPED
    return new_row(Lead, {
        "integration_id": integration.pk,
        "linkedin_id": normalized["id"],
        "form_version": _version(normalized.get("form_version")),
        "lead_type": _fit(normalized.get("lead_type"), "lead_type"),
        "submitted_at": from_epoch_ms(normalized["submitted_at"]),
        "test_lead": bool(normalized.get("test_lead")),
        "submitter_urn": _fit(normalized.get("submitter_urn"), "submitter_urn") or None,
        "associated_entity_urn": _fit(entity.get("urn"), "associated_entity_urn"),
        "campaign_urn": _fit(normalized.get("campaign_urn"), "campaign_urn"),
        "email": email_of(normalized),
        "raw": element,
        "answers": normalized,
        "state": state,
        "last_error": "test lead: not pushed" if state == Lead.State.SKIPPED else "",
    })


def _commit(integration: Integration, pairs) -> dict:
    """Store the integration's new leads of one page (in the page's transaction). A lead LinkedIn already
    gave us is left alone; one LinkedIn said was deleted is never stored again (a page fetched
    before the deletion may arrive after it)."""
    counts = {"new": 0, "skipped": 0, "leads": []}
    rows = [_lead_row(integration, element, normalized) for element, normalized in pairs]
    if not rows:
        return counts
    deleted = values_in(LeadNotification, "lead_id", [r.linkedin_id for r in rows],
                        action=LeadNotification.Action.DELETED)
    if deleted:
        counts["skipped"] += len(deleted)
        rows = [r for r in rows if r.linkedin_id not in deleted]
    # Inside the page's transaction (leads_store): what is known and what is inserted agree.
    known = values_in(Lead, "linkedin_id", [r.linkedin_id for r in rows])
    fresh = {r.linkedin_id: r for r in rows if r.linkedin_id not in known}
    rows_insert(fresh.values(), ignore_conflicts=True, key="linkedin_id")
    counts["new"] = len(fresh)
    counts["skipped"] += sum(1 for r in fresh.values() if r.state == Lead.State.SKIPPED)
    # The pending leads this page inserted, with their pks: the push takes them from here instead
    # of reading them back (one another process stored first has no pk here and is read back).
    counts["leads"] = [r for r in fresh.values() if r.pk is not None and r.state == Lead.State.PENDING]
    return counts


@dataclass
class StoreCounts:
    pulled: int = 0   # leads routed to the integration
    new: int = 0
    skipped: int = 0  # test leads, and leads LinkedIn reported deleted
    leads: list = field(default_factory=list, repr=False)  # the new pending Lead rows, pks set


def leads_store(*, elements: list, versions: FormVersions, route: Callable[[dict], Integration | None],
                where, in_commit: Callable[[dict, int], None] | None = None) -> tuple[dict, int]:
    """Parse one page of leads and commit each to the integration `route(normalized lead)` names
    (None: not a lead LeadSync syncs). Returns ({integration: StoreCounts}, malformed leads);
    `in_commit` is called with the same inside the page's transaction, for what must be committed
    with the leads (the runs' counts: one commit per page, not two)."""
    routed, malformed = {}, 0
    for element in elements:
        try:
            normalized = normalize_response(element, versions)
        except BadPayload as exc:
            malformed += 1
            logger.warning("%s: a malformed lead was skipped: %s", where, exc.message)
            continue
        integration = route(normalized)
        if integration is not None:
            routed.setdefault(integration, []).append((element, normalized))
    stored = {}
    with transaction.atomic():  # the page's leads, whatever their integration: one commit (no HTTP inside)
        for integration, pairs in routed.items():
            counts = _commit(integration, pairs)
            stored[integration] = StoreCounts(pulled=len(pairs), new=counts["new"], skipped=counts["skipped"],
                                              leads=counts["leads"])
        if in_commit is not None:
            in_commit(stored, malformed)
    return stored, malformed


# --- the scheduled pull -------------------------------------------------------------------------

@dataclass(eq=False)
class PullMember:
    """One integration taking part in an owner's pull: its lead types, its run and its lock."""

    integration: Integration
    lead_types: list
    run: SyncRun
    lock: IntegrationLock


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


def leads_pull(*, owner, members: list[PullMember], progress=None, after_page=None) -> None:
    """Pull the members' windows with one finder query per lead type of the owner, page by page,
    committing each page (each lead to the integration of its form) before asking for the next;
    `after_page({integration: StoreCounts})` is called once each page is committed.
    A token LinkedIn refuses (after the client's refresh-and-retry) flags the connection as
    needing re-authorisation and raises NeedsReauthorization: no watermark moves."""
    try:
        _pull(owner=owner, members=members, progress=progress, after_page=after_page)
    except Unauthorized as exc:
        if _token_really_dead(owner.connection):
            reason = f"LinkedIn refused the access token during a sync ({exc.message})."
            connection_mark_needs_reauth(connection=owner.connection, reason=reason)
            raise NeedsReauthorization(reason) from None
        raise


def _pull(*, owner, members: list[PullMember], progress=None, after_page=None) -> None:
    client = linkedin_client(owner.connection)
    versions = FormVersions([m.integration.form for m in members], client)
    start_ms = epoch_ms(min(m.run.window_start for m in members))
    end_ms = epoch_ms(max(m.run.window_end for m in members))
    lead_types = list(dict.fromkeys(t for m in members for t in m.lead_types))
    read = 0
    for lead_type in lead_types:
        takers = {m.integration.form.linkedin_id: m for m in members if lead_type in m.lead_types}
        only = next(iter(takers.values())) if len(takers) == 1 else None

        def route(normalized, takers=takers, only=only):
            form_id = normalized.get("form_id")
            member = only if form_id is None else takers.get(form_id)  # None: a form nobody here syncs
            return member.integration if member else None

        by_integration = {m.integration: m for m in takers.values()}
        pages = client.lead_form_responses(owner.urn, lead_type, start_ms=start_ms, end_ms=end_ms,
                                           ahead=settings.LEADSYNC_PULL_PAGES_AHEAD)
        # Closed however the loop ends: pages read ahead stop being fetched there and then.
        with closing(pages):
            for page in pages:
                # Renewed before the page is stored: a sync that lost its lock (taken over, torn
                # down) stores nothing more.
                locks_renew([member.lock for member in members])
                def count(stored, malformed, by_integration=by_integration):
                    # The runs' counts, committed with the page's leads.
                    members[0].run.skipped += malformed
                    for integration, counts in stored.items():
                        run = by_integration[integration].run
                        run.pulled += counts.pulled
                        run.new += counts.new
                        run.skipped += counts.skipped
                    for member in members:
                        member.run.progress_done = member.run.pulled
                        member.run.save(update_fields=["pulled", "new", "skipped", "progress_done"])

                before = [(m.run, m.run.pulled, m.run.new, m.run.skipped, m.run.progress_done) for m in members]
                try:
                    stored, malformed = leads_store(elements=page, versions=versions, route=route, where=owner,
                                                    in_commit=count)
                except BaseException:  # the page was rolled back: so are the counts
                    for run, *values in before:
                        run.pulled, run.new, run.skipped, run.progress_done = values
                    raise
                read += len(page)
                if progress:
                    progress("pull", read, None)
                if after_page:
                    after_page(stored)
                query_log_clear()
    # The whole window is committed: watermarks may move, but only forward and only when the
    # window joins what was already covered (a backfill of an old window does not skip a gap).
    for member in members:
        integration, run = member.integration, member.run
        if integration.watermark is None or run.window_start <= integration.watermark:
            new_mark = max(filter(None, [integration.watermark, run.window_end]))
            Integration.objects.filter(pk=integration.pk).update(watermark=new_mark)
            integration.watermark = new_mark
