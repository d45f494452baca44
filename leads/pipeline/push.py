"""Pushing stored leads to the CRM: a pure plan of what to create and what to update, and the
pusher that carries it out against the CRM and records every lead's outcome.

The CRM has no idempotency key, so what keeps a lead from being created twice is knowing its CRM
id: the one it got before, one LeadSync already has for its e-mail on that CRM account, or one the
CRM gives when asked by e-mail. The CRM dedupes on the e-mail address (a create of a known one is
refused with 301), so:
- a lead with a CRM id is updated (updateLeadsV2); when the CRM no longer has that lead (404) it
  is created again;
- a create whose answer did not come (a timeout, a 5xx, a lost answer) is healed in the same run:
  one read of what the CRM created since the call began (by create time, matched by e-mail) gives
  the created leads their CRM ids, and the others are created again;
- a lead tried before without a CRM id (the process died, or the CRM stayed away) may have been
  created by a create whose answer was lost: its e-mail is looked up before it is created;
- of one person's submissions in a batch only the oldest is created, the later ones update it,
  oldest first, so the CRM ends with the newest answers;
- a 301 is a lead the CRM already has: it is looked up by e-mail and updated.
A lead the CRM refuses is failed with the CRM's message; the batch goes on (LGF-110). A field the
mapping could not fill never stops its lead (LGF-109, in the mapping engine).
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Lower
from django.utils import timezone

from connectors.clients import crm_client
from connectors.crm import schema
from connectors.crm.client import CrmClient
from connectors.crm_connections import crm_field_catalogue
from connectors.exceptions import ApiError, HostError, ServerError
from leads.models import Lead, SyncRun
from mappings import engine
from mappings.models import Integration
from mappings.services import form_definition

logger = logging.getLogger(__name__)

DUPLICATE_NOT_FOUND = "The CRM reports this e-mail as a duplicate (301) but no lead with it was found."
ANSWER_LOST = ("The CRM's answer to createLeads was lost ({error}); the next push looks this lead up by "
               "e-mail before creating it.")
# How many lost createLeads answers one push heals in place before it leaves the rest to the next run.
MAX_HEALS = 3
# A plan converges in a few steps (look up, create, look up the duplicates, update, create the
# deleted ones again); this bounds a CRM that keeps contradicting itself.
MAX_STEPS = 16


# --- the plan (pure) ----------------------------------------------------------------------------

@dataclass(eq=False)
class PushItem:
    """One lead of a batch as the planner sees it. `lead` is opaque to the planner."""

    lead: object
    address: str             # the e-mail as the CRM object carries it
    crm_id: str = ""         # the CRM lead it is known to be
    uncertain: bool = False  # pushed before without a CRM id: a lost answer may have created it
    duplicate: bool = False  # the CRM answered its create with 301
    gone: bool = False       # the CRM answered its update with 404: its CRM lead was deleted there
    done: bool = False       # synced or failed

    @property
    def email(self) -> str:
        return self.address.strip().lower()


@dataclass
class PushPlan:
    """The next step of a push. Only one kind of call is made per step, in this order: look-ups
    (their answers change what is created), then creates, then updates."""

    look_up: list = field(default_factory=list)  # one item per e-mail to ask the CRM about
    create: list = field(default_factory=list)   # one item per e-mail the CRM does not have
    update: list = field(default_factory=list)   # (item, CRM id)
    fail: list = field(default_factory=list)     # (item, message)

    def __bool__(self):
        return bool(self.look_up or self.create or self.update or self.fail)


def plan_push(items: list[PushItem], *, known: dict, asked: set) -> PushPlan:
    """What to do next with the items not done yet, oldest submission first, from what is known:
    `known` maps e-mails to the CRM ids LeadSync has for them, `asked` holds the e-mails the CRM
    was already asked about in this push. Pure: the same facts give the same plan. The pusher
    carries out a step, records what it learned on the items and in `known`/`asked`, and plans
    again until the plan is empty."""
    plan = PushPlan()
    looking, creating = set(), set()
    for item in items:
        if item.done:
            continue
        crm_id = item.crm_id or known.get(item.email)
        if crm_id:
            plan.update.append((item, crm_id))
            continue
        must_ask = item.duplicate or (item.uncertain and not item.gone)
        if must_ask and item.email not in asked:
            if item.email not in looking:
                looking.add(item.email)
                plan.look_up.append(item)
            continue
        if item.duplicate:
            plan.fail.append((item, DUPLICATE_NOT_FOUND))
            continue
        if item.email not in creating:
            creating.add(item.email)
            plan.create.append(item)
        # else: a later submission of an e-mail being created; it updates that lead next step
    return plan


# --- carrying it out ----------------------------------------------------------------------------

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


class Pusher:
    """Pushes batches of one integration's leads; keeps the mapping and catalogue loaded once."""

    def __init__(self, integration: Integration, client: CrmClient | None = None, lock=None):
        self.integration = integration
        self.lock = lock  # renewed before every CRM call: the push never outlives its lock
        self._heals = 0   # lost createLeads answers healed in this push
        self.objects = {}  # lead pk -> the CRM object of the batch being pushed
        self.client = client or crm_client(integration.crm_connection)
        self.mappings = list(integration.mappings.all())
        self.catalogue = {f["system_name"]: f for f in crm_field_catalogue(integration.crm_connection)}
        self.form = form_definition(integration.form)
        custom = sum(1 for m in self.mappings if m.crm_field and self.catalogue.get(m.crm_field, {}).get("is_custom"))
        limit = schema.HEAVY_MAX_OBJECTS if custom > schema.HEAVY_CUSTOM_FIELDS else schema.MAX_OBJECTS
        self.batch_size = max(1, min(settings.LEADSYNC_CRM_BATCH_SIZE, limit))

    def push(self, leads: list[Lead]) -> PushCounts:
        """Push one batch and record every lead's outcome, in one write at the end."""
        counts = PushCounts()
        now = timezone.now()
        self.objects = {}
        items = []
        for lead in sorted(leads, key=lambda l: (l.submitted_at, l.pk)):
            lead.attempts += 1
            lead.last_attempt_at = now
            try:
                mapped = engine.apply_mapping(lead.answers, self.mappings, self.catalogue, form=self.form)
            except Exception as exc:  # noqa: BLE001 - one unreadable lead never stops the batch (LGF-110)
                self._fail(lead, f"The lead could not be mapped ({type(exc).__name__}); fix its data or the mapping "
                                 "and retry it.", counts)
                continue
            lead.field_outcomes = mapped.outcomes
            if mapped.lead_error:
                self._fail(lead, mapped.lead_error, counts)
                continue
            self.objects[lead.pk] = mapped.crm_object
            items.append(PushItem(lead=lead, address=mapped.crm_object[schema.EMAIL_FIELD], crm_id=lead.crm_id,
                                  uncertain=not lead.crm_id and lead.attempts > 1))
        # A CRM lead LeadSync already made or found for an e-mail on this CRM account is updated,
        # without asking the CRM (one lookup per e-mail would cost a call each at 10 calls/s).
        known = self._known_crm_ids({item.email for item in items if not item.crm_id})
        asked = set()
        try:
            for _ in range(MAX_STEPS):
                plan = plan_push(items, known=known, asked=asked)
                if not plan:
                    break
                for item, message in plan.fail:
                    item.done = True
                    self._fail(item.lead, message, counts)
                if self.lock is not None and (plan.look_up or plan.create or plan.update):
                    self.lock.renew()
                if plan.look_up:
                    self._look_up(plan.look_up, known, asked)
                elif plan.create:
                    self._create(plan.create, known, asked, counts)
                elif plan.update:
                    self._update(plan.update, known, counts)
        except Exception:
            # The CRM went away mid-batch, or the lock was taken over: what the CRM already settled
            # is kept (the leads of a lost create recorded their own state in _create), the rest
            # stays pending as it was.
            self._save([lead for lead in leads if lead.state != Lead.State.PENDING])
            raise
        for item in items:
            if not item.done:
                self._fail(item.lead, "The CRM's answers about this lead kept contradicting each other; retry it.",
                           counts)
        self._save(leads)
        return counts

    @staticmethod
    def _save(leads):
        Lead.objects.bulk_update(
            leads, ["field_outcomes", "attempts", "last_attempt_at", "state", "crm_id", "last_error", "synced_at"]
        )

    def _known_crm_ids(self, emails) -> dict:
        """{e-mail: CRM id} from leads already synced to this CRM account."""
        if not emails:
            return {}
        rows = (Lead.objects.filter(integration__crm_connection=self.integration.crm_connection, state=Lead.State.SYNCED)
                .exclude(crm_id="").annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
                .order_by("synced_at").values_list("email_lower", "crm_id"))
        return dict(rows)

    def _look_up(self, items, known, asked):
        """Ask the CRM for the leads of these e-mails (getLeads by e-mail)."""
        found = self.client.get_leads_by_email({item.address for item in items})
        for item in items:
            asked.add(item.email)
            match = found.get(item.address) or found.get(item.email)
            if match and match.get("id"):
                known[item.email] = str(match["id"])

    def _create(self, items, known, asked, counts):
        """createLeads. Never resent blindly once it may have reached the CRM (see
        CrmClient.create_leads): after a timeout, a 5xx or a lost answer, what the CRM created is
        found out in one read (`_find_created`) and the rest is created in the next step; when the
        CRM stays away, the lost answer is recorded on the leads and raised, and the next push looks
        them up. The attempt is recorded before the call: a process that dies during it leaves leads
        the next push knows it tried, and looks up before creating them again."""
        Lead.objects.bulk_update([item.lead for item in items], ["attempts", "last_attempt_at"])
        started = timezone.now()
        try:
            results = self.client.create_leads([self.objects[item.lead.pk] for item in items])
        except (HostError, ServerError) as exc:
            if self._heals < MAX_HEALS and self._find_created(items, known, asked, since=started, error=exc):
                self._heals += 1
                return
            leads = [item.lead for item in items]
            for lead in leads:
                lead.last_error = ANSWER_LOST.format(error=exc.message)
            Lead.objects.bulk_update(leads, ["attempts", "last_attempt_at", "last_error", "field_outcomes"])
            raise
        for item, result in zip(items, results):
            if result.success:
                item.done = True
                known[item.email] = result.id
                self._ok(item.lead, result.id)
                counts.created += 1
            elif result.error_code == schema.ENTRY_EXISTS_CODE:
                item.duplicate = True
            else:
                item.done = True
                self._fail(item.lead, _crm_error(result), counts)

    def _find_created(self, items, known, asked, *, since, error) -> bool:
        """After a createLeads whose answer did not come: wait as the retry policy says, then read
        the leads the CRM created since the call began (getLeadsDateRange by create time, one call,
        matched by e-mail) and adopt their CRM ids; the others were not created and are created in
        the next step (their e-mails count as asked, so they are not looked up one by one). False
        when the CRM cannot be read either: the caller gives up for this run."""
        policy = self.client.retry
        policy.sleep(policy.delay(1, error))
        margin = timedelta(seconds=schema.CLOCK_MARGIN_SECONDS)
        try:
            created = self.client.get_leads_date_range(since - margin, timezone.now() + margin, timestamp="create",
                                                       fields=["id", schema.EMAIL_FIELD])
        except ApiError:
            return False
        ids = {str(lead.get(schema.EMAIL_FIELD) or "").strip().lower(): str(lead["id"])
               for lead in created if lead.get("id")}
        for item in items:
            asked.add(item.email)
            if item.email in ids:
                known[item.email] = ids[item.email]
        logger.warning("%s: createLeads answered %s; %d of %d leads were created by it and are adopted, the others "
                       "are created again", self.integration, error, sum(i.email in ids for i in items), len(items))
        return True

    def _update(self, pairs, known, counts):
        """updateLeadsV2 by CRM id; a CRM lead that no longer exists (404) makes its lead be created again."""
        for item, crm_id in pairs:
            item.lead.crm_id = crm_id
        results = self.client.update_leads_v2([{**self.objects[item.lead.pk], "id": crm_id} for item, crm_id in pairs])
        for (item, crm_id), result in zip(pairs, results):
            if result.success or result.error_code == schema.NO_ROWS_AFFECTED_CODE:
                item.done = True
                self._ok(item.lead, crm_id)
                counts.updated += 1
            elif result.error_code == schema.RECORD_NOT_FOUND_CODE:
                item.crm_id, item.gone, item.lead.crm_id = "", True, ""
                if known.get(item.email) == crm_id:
                    del known[item.email]
            else:
                item.done = True
                self._fail(item.lead, _crm_error(result), counts)

    @staticmethod
    def _fail(lead, message, counts):
        lead.state = Lead.State.FAILED
        lead.last_error = message
        counts.failed += 1

    @staticmethod
    def _ok(lead, crm_id):
        lead.state = Lead.State.SYNCED
        lead.crm_id = crm_id or lead.crm_id
        lead.last_error = ""
        lead.synced_at = timezone.now()


def leads_push(*, integration: Integration, leads_qs=None, run: SyncRun | None = None, progress=None,
               lock=None) -> PushCounts:
    """Push the integration's pending leads (or `leads_qs`) in batches of at most 500 (250 with
    many custom fields), oldest first. Each batch is recorded before the next is sent. With the
    integration's `lock` (an IntegrationLock), its lease is renewed before every CRM call and the
    push stops (LockLost) once another sync took the integration over."""
    pusher = Pusher(integration, lock=lock)
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
        if progress:
            progress("push", done, total)
    return counts
