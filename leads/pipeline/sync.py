"""A sync: pull an integration's window from LinkedIn, then push what is pending to the CRM.

Integrations of one owner (an organization or ad account) share one finder query per lead type;
each gets its own SyncRun and holds its own lock for the whole of its sync. What a
failure leaves: leads already committed stay, no watermark moves past what was pulled, and the run
says why it failed.
"""

import logging
from contextlib import ExitStack
from datetime import timedelta
from functools import partial

from django.utils import timezone

from connectors.exceptions import LeadSyncError, NeedsReauthorization
from connectors.permissions import sync_blockers
from leads.models import Lead, SyncRun
from leads.pipeline.locks import SyncBusy, integration_locked
from leads.pipeline.pull import PullMember, leads_pull
from leads.pipeline.push import PendingPush, leads_push
from leads.pipeline.runs import run_fail, sync_run
from leads.pipeline.windows import sync_window
from leads.webhooks import notifications_sweep
from leadsync_project.logs import log_context
from mappings.models import Integration

logger = logging.getLogger(__name__)


def integration_sync(*, integration: Integration, trigger=SyncRun.Trigger.SCHEDULE, days=None, since=None,
                     progress=None) -> SyncRun:
    """Pull the integration's window and push what is pending (see integrations_sync); returns its
    run. Raises SyncBusy when another sync holds it."""
    return integrations_sync(integrations=[integration], trigger=trigger, days=days, since=since, progress=progress)[0]


def integrations_sync(*, integrations, trigger=SyncRun.Trigger.SCHEDULE, days=None, since=None, progress=None,
                      siblings=True, skip_busy=False) -> list[SyncRun]:
    """Sync integrations with one LinkedIn finder query per owner and lead type: the integrations
    of one organization or ad account share each page, every lead going to the integration of its
    form. With `siblings`, the owner's other active integrations of the same lead types that no
    sync holds join on their own regular window, so their next tick finds the work done.

    Returns the requested integrations' runs, in order. Raises ValueError for a window that makes
    no sense and, before anything runs, SyncBusy when another sync holds a requested integration;
    with `skip_busy` such an integration is left to the sync that holds it instead (it has no run in
    the result) and the others go on. Failures of a run (LinkedIn needs re-authorisation, an API
    that stays down, a lock taken over) end it as failed with the reason."""
    windows = {i.pk: sync_window(integration=i, days=days, since=since) for i in integrations}
    # Lead notifications still waiting (their task never ran) first: a DELETED one must not wait
    # behind a sync that may take the lead's data out again.
    notifications_sweep()
    by_owner = {}
    for integration in integrations:
        by_owner.setdefault(integration.form.owner_id, []).append(integration)
    runs, locks = {}, {}
    with ExitStack() as held:
        # Every requested lock first (all or none), each owner's in its own stack, so that an
        # owner's locks go as soon as its sync ends, or crashes, and the next owner's still do.
        owner_stacks = []
        for group in by_owner.values():
            stack = held.enter_context(ExitStack())
            taken = []
            for integration in group:
                try:
                    locks[integration.pk] = stack.enter_context(integration_locked(integration=integration))
                except SyncBusy:
                    if not skip_busy:
                        raise
                    logger.info("%s: another sync holds it; it is left to that sync", integration)
                    continue
                taken.append(integration)
            if taken:
                owner_stacks.append((stack, taken))
        for stack, group in owner_stacks:
            with stack:
                owner = group[0].form.owner
                if siblings:
                    group = group + _siblings_locked(owner, group, stack, locks, windows)
                runs.update(_owner_sync(owner=owner, integrations=group, windows=windows, locks=locks,
                                        trigger=trigger, progress=progress))
    return [runs[i.pk] for i in integrations if i.pk in runs]


def sync_parts(*, integrations) -> list[list[Integration]]:
    """A large sync split in parts that several workers can run at once: the integrations grouped by
    owner (organization or ad account) and lead types, in order of first appearance. An integration
    is in exactly one part, and a part's sync takes the locks of its own integrations only, so two
    parts never wait for each other; the parts' finder queries differ (another owner, or another
    lead type), so no lead is pulled by two parts, and one pulled twice (a part run again after its
    worker died) is stored once anyway (the LinkedIn id is unique). An integration that takes
    several lead types stays one part: its run and its watermark cover them all."""
    parts = {}
    for integration in integrations:
        types = tuple(sorted(_lead_types(integration)))
        parts.setdefault((integration.form.owner_id, types), []).append(integration)
    return list(parts.values())


def integration_recent_scheduled_run(*, integration: Integration, now=None) -> SyncRun | None:
    """The succeeded scheduled run of the integration that started less than half its interval ago,
    if any: a sibling's tick of this beat interval pulled it already (its integrations join every
    sync of their owner), so its own tick has nothing to add. Half the interval, so that the
    integration's own previous tick, run late by a busy worker, never makes it skip its next one.
    Failed runs, and manual, backfill or webhook runs, do not count: they stand for no tick.
    No query unless `last_sync_at` is that recent."""
    now = now or timezone.now()
    since = now - timedelta(minutes=integration.sync_every_minutes) / 2
    if integration.last_sync_at is None or integration.last_sync_at < since:
        return None
    return (SyncRun.objects.filter(integration=integration, trigger=SyncRun.Trigger.SCHEDULE,
                                   state=SyncRun.State.SUCCEEDED, started_at__gte=since)
            .order_by("-started_at").first())


def _lead_types(integration) -> set:
    return set(integration.lead_types or integration.form.receives())


def _siblings_locked(owner, group, stack, locks, windows) -> list[Integration]:
    """The owner's other active integrations that share a lead type with the group (so share its
    finder queries) and whose lock could be taken (into `stack`). One of other lead types only
    would add queries of its own and no saving: it is left to its own tick, which another worker
    may run at the same time."""
    joined = []
    types = set().union(*(_lead_types(i) for i in group))
    for sibling in (Integration.objects.filter(form__owner=owner, state=Integration.State.ACTIVE)
                    .exclude(pk__in=[i.pk for i in group])
                    .select_related("form__owner__connection", "crm_connection")):
        if not _lead_types(sibling) & types:
            continue
        try:
            locks[sibling.pk] = stack.enter_context(integration_locked(integration=sibling))
        except SyncBusy:
            continue
        windows[sibling.pk] = sync_window(integration=sibling)
        joined.append(sibling)
    return joined


def _owner_sync(*, owner, integrations, windows, locks, trigger, progress) -> dict:
    """Pull the owner's leads for these (locked) integrations, then push each one's pending leads."""
    try:
        with ExitStack() as stack:
            runs = {i.pk: stack.enter_context(sync_run(integration=i, trigger=trigger, window=windows[i.pk]))
                    for i in integrations}
            if len(runs) > 1:  # one pull for several runs: its records name them all
                stack.enter_context(log_context(run_id=",".join(str(r.pk) for r in runs.values()),
                                                integration_id=",".join(str(pk) for pk in runs)))
            members = []
            for integration in integrations:
                lead_types = integration.lead_types or integration.form.receives()
                blockers = sync_blockers(connection=owner.connection, owner=owner, lead_types=lead_types)
                if blockers:
                    run_fail(runs[integration.pk], f"not started: {'; '.join(blockers)}")
                else:
                    members.append(PullMember(integration=integration, lead_types=lead_types,
                                              run=runs[integration.pk], lock=locks[integration.pk]))
            # A scheduled sync leaves leads waiting to be retried until their time; one an operator
            # asked for pushes every pending lead now.
            due_only = trigger in (SyncRun.Trigger.SCHEDULE, SyncRun.Trigger.WEBHOOK)
            pushes = {member.integration.pk: PendingPush(integration=member.integration, run=member.run,
                                                         lock=member.lock, due_only=due_only, progress=progress)
                      for member in members}
            for pending in pushes.values():
                stack.callback(pending.close)  # a batch still in flight is recorded, whatever happens
            if members:
                try:
                    leads_pull(owner=owner, members=members, progress=progress,
                               after_page=partial(_push_full_batches, members, pushes))
                except NeedsReauthorization as exc:
                    _fail_all(members, f"LinkedIn connection needs re-authorisation: {exc}")
                except LeadSyncError as exc:
                    _fail_all(members, str(exc))
            for member in members:
                if member.run.state != SyncRun.State.RUNNING:
                    continue  # (a batch it still has in flight is recorded by its close, above)
                try:
                    with log_context(run_id=member.run.pk, integration_id=member.integration.pk):
                        member.lock.renew()
                        pushes[member.integration.pk].push()
                except LeadSyncError as exc:  # this integration's CRM: the others go on
                    run_fail(member.run, str(exc))
    except Exception:
        logger.exception("sync of %s crashed", owner)
        raise
    finally:
        Integration.objects.filter(pk__in=[i.pk for i in integrations]).update(last_sync_at=timezone.now())
    return runs


def _push_full_batches(members, pushes, stored):
    """During the pull: each member's batch in flight is carried on, and one with a whole batch of
    new leads waiting sends it (PendingPush.stored), so the CRM's calls (and its per-second limit)
    overlap LinkedIn's paging instead of following it. A CRM that fails ends that member's run;
    its leads are still stored by the rest of the pull."""
    for member in members:
        if member.run.state != SyncRun.State.RUNNING:
            continue
        counts = stored.get(member.integration)
        try:
            pushes[member.integration.pk].stored(max(0, counts.new - counts.skipped) if counts else 0,
                                                 leads=counts.leads if counts else ())
        except LeadSyncError as exc:
            run_fail(member.run, str(exc))


def _fail_all(members, error):
    for member in members:
        run_fail(member.run, error)


def leads_retry_failed(*, integration: Integration, lead_ids=None, error_codes=None, progress=None) -> SyncRun:
    """Push the integration's failed leads (or only those of `lead_ids`, and/or only those whose
    last error is one of `error_codes`, Lead.error_code) again, after a fix of the mapping or the
    data, as a retry run. Leads that are not failed (ignored ones included) are left alone. Raises
    SyncBusy when a sync holds the integration. The run's `retried_lead_ids` (not a column) lists the
    leads it took up, for the caller's history (leads.events: never written here)."""
    with (integration_locked(integration=integration) as lock,
          sync_run(integration=integration, trigger=SyncRun.Trigger.RETRY) as run):
        failed = integration.leads.filter(state=Lead.State.FAILED)
        if lead_ids is not None:
            failed = failed.filter(pk__in=lead_ids)
        if error_codes is not None:
            failed = failed.filter(error_code__in=list(error_codes))
        ids = list(failed.values_list("pk", flat=True))
        run.retried_lead_ids = ids
        failed.update(state=Lead.State.PENDING, retries=0, retry_at=None)
        leads_push(integration=integration, leads_qs=Lead.objects.filter(pk__in=ids), run=run, progress=progress,
                   lock=lock)
    return run
