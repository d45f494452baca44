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
- a lead whose create was sent and never answered (the process died, or the CRM stayed away) may
  have been created: what the CRM created around that moment is read (one getLeadsDateRange for the
  batch, by e-mail) before it is created;
- one person's submissions in a batch are created as one CRM lead, in one object that holds their
  answers oldest first, later ones overwriting (as updates would), so the CRM ends with the newest
  answers without an updateLeadsV2 call per batch of repeat submitters;
- a 301 is a lead the CRM already has: it is looked up by e-mail and updated.
A field never sinks its lead (LGF-109): the mapping engine leaves out what it cannot fill, and when
the CRM refuses a lead for fields it names (205 and its kin), the lead is sent again without them
and synced, the refusal recorded on those fields. A lead the CRM refuses as a whole is failed with
the CRM's message; the batch goes on (LGF-110). A push that ends in an error that may pass (the CRM
away, a lost answer, a rate limit) leaves its leads pending, to be tried again by later scheduled
syncs with a growing delay, a bounded number of times in a row; then they are failed and wait for
staff. Every push of a lead is recorded (LeadAttempt), for its page.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connectors.clients import crm_client
from connectors.crm import schema
from connectors.crm.client import CrmClient
from connectors.crm_connections import crm_field_catalogue
from connectors.exceptions import ApiError, BadPayload, HostError, ServerError
from leads.models import Lead, LeadAttempt, SyncRun
from leads.pipeline.locks import LockLost
from leads.pipeline.writes import new_row, query_log_clear, rows_in, rows_insert, rows_set, rows_update
from mappings import engine
from mappings.models import Integration
from mappings.services import form_definition

logger = logging.getLogger(__name__)

DUPLICATE_NOT_FOUND = "The CRM reports this e-mail as a duplicate (301) but no lead with it was found."
ANSWER_LOST = ("The CRM's answer to createLeads was lost ({error}); the next push looks this lead up by "
               "e-mail before creating it.")
CONTRADICTED = "The CRM's answers about this lead kept contradicting each other; retry it."
# Lead.error_code for errors that are not the CRM's own codes.
LOST, UNREACHABLE, MAPPING, CONTRADICTION = "lost", "unreachable", "mapping", "contradiction"
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
    sent_at: object = None   # when a create of it was sent and never answered: it may have been created
    duplicate: bool = False  # the CRM answered its create with 301
    gone: bool = False       # the CRM answered its update with 404: its CRM lead was deleted there
    done: bool = False       # synced or failed

    @property
    def email(self) -> str:
        return self.address.strip().lower()

    @property
    def uncertain(self) -> bool:
        return self.sent_at is not None


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


def _mark_sent(leads, started):
    """Record on the leads, before their createLeads is sent, that it is being sent: one UPDATE
    per distinct attempt number (a batch's leads mostly share one) instead of one per lead."""
    by_attempts = {}
    for lead in leads:
        by_attempts.setdefault((lead.attempts, lead.last_attempt_at), []).append(lead.pk)
    with transaction.atomic():
        for (attempts, last_attempt_at), pks in by_attempts.items():
            rows_set(Lead, pks, attempts=attempts, last_attempt_at=last_attempt_at, create_sent_at=started)


class CallNeeded:
    """A call a push step needs made: `function(*args, **kwargs)` (a CrmClient method, or the
    retry policy's sleep); its driver sends back what it returned or throws what it raised."""

    __slots__ = ("function", "args", "kwargs")

    def __init__(self, function, *args, **kwargs):
        self.function, self.args, self.kwargs = function, args, kwargs

    def __call__(self):
        return self.function(*self.args, **self.kwargs)


def calls_run(steps):
    """Drive a push generator (Pusher.steps) to its end, making each call in place; its result."""
    answer, error = None, None
    while True:
        try:
            call = steps.throw(error) if error is not None else steps.send(answer)
        except StopIteration as done:
            return done.value
        answer, error = None, None
        try:
            answer = call()
        except Exception as exc:  # noqa: BLE001 - thrown into the push, which decides
            error = exc


def _crm_error(result) -> str:
    message = f"CRM error {result.error_code}: {result.error_message}"
    return f"{message} ({result.error_detail})" if result.error_detail else message


class Pusher:
    """Pushes batches of one integration's leads; keeps the mapping and catalogue loaded once."""

    def __init__(self, integration: Integration, client: CrmClient | None = None, lock=None,
                 run: SyncRun | None = None):
        self.integration = integration
        self.lock = lock  # renewed before every CRM call: the push never outlives its lock
        self.run = run    # the attempts of its leads name it
        self._heals = 0   # lost createLeads answers healed in this push
        self.objects = {}  # lead pk -> the CRM object of the batch being pushed
        self.refused = {}  # lead pk -> the CRM fields the CRM refused, left out of its object
        self.client = client or crm_client(integration.crm_connection)
        self.rows = list(integration.mappings.all())
        self.catalogue = {f["system_name"]: f for f in crm_field_catalogue(integration.crm_connection)}
        # What the rows and the catalogue say, worked out once for every lead this pusher maps.
        self.mapping = engine.compile_mapping(self.rows, self.catalogue, form=form_definition(integration.form))
        custom = sum(1 for m in self.rows if m.crm_field and self.catalogue.get(m.crm_field, {}).get("is_custom"))
        limit = schema.HEAVY_MAX_OBJECTS if custom > schema.HEAVY_CUSTOM_FIELDS else schema.MAX_OBJECTS
        self.batch_size = max(1, min(settings.LEADSYNC_CRM_BATCH_SIZE, limit))

    def push(self, leads: list[Lead]) -> PushCounts:
        """Push one batch and record every lead's outcome, in one write at the end."""
        return calls_run(self.steps(leads))

    def steps(self, leads: list[Lead]):
        """The push of one batch as a generator: it yields each CRM call to make (a CallNeeded) and is
        sent its answer, or thrown its error, so that whoever drives it decides where the call runs
        (`calls_run` in place; PendingPush in a thread while the pull goes on). Everything else,
        the database included, runs in the driver's thread. Returns the batch's PushCounts."""
        counts = PushCounts()
        now = timezone.now()
        self.objects, self.refused = {}, {}
        items = []
        for lead in sorted(leads, key=lambda l: (l.submitted_at, l.pk)):
            lead.attempts += 1
            lead.last_attempt_at = now
            lead.retry_at, lead.error_code = None, ""
            try:
                mapped = self.mapping.apply(lead.answers)
            except Exception as exc:  # noqa: BLE001 - one unreadable lead never stops the batch (LGF-110)
                self._fail(lead, f"The lead could not be mapped ({type(exc).__name__}); fix its data or the mapping "
                                 "and retry it.", counts, code=MAPPING)
                continue
            lead.field_outcomes = mapped.outcomes
            if mapped.lead_error:
                self._fail(lead, mapped.lead_error, counts, code=MAPPING)
                continue
            self.objects[lead.pk] = mapped.crm_object
            items.append(PushItem(lead=lead, address=mapped.crm_object[schema.EMAIL_FIELD], crm_id=lead.crm_id,
                                  sent_at=None if lead.crm_id else lead.create_sent_at))
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
                    self._fail(item.lead, message, counts, code=str(schema.ENTRY_EXISTS_CODE))
                if self.lock is not None and (plan.look_up or plan.create or plan.update):
                    self.lock.renew()
                if plan.look_up:
                    yield from self._look_up(plan.look_up, known, asked)
                elif plan.create:
                    yield from self._create(plan.create, items, known, asked, counts)
                elif plan.update:
                    yield from self._update(plan.update, known, counts)
        except LockLost:
            # Another sync holds the integration now and may be pushing these very leads: only
            # what this push settled is written.
            self._save([lead for lead in leads if lead.state != Lead.State.PENDING])
            raise
        except Exception as exc:
            # The CRM went away mid-batch: what it already settled is kept, the rest stays pending
            # and says why; an error that may pass counts against the lead's retries.
            self._interrupted([lead for lead in leads if lead.state == Lead.State.PENDING], exc)
            self._save(leads)
            raise
        for item in items:
            if not item.done:
                self._fail(item.lead, CONTRADICTED, counts, code=CONTRADICTION)
        self._save(leads)
        return counts

    @transaction.atomic  # one commit for the batch's outcomes and attempts, not one per row
    def _save(self, leads):
        rows_update(
            leads, ["field_outcomes", "attempts", "last_attempt_at", "create_sent_at", "state", "crm_id", "last_error",
                    "error_code", "retries", "retry_at", "synced_at"]
        )
        rows_insert([self._attempt(lead) for lead in leads])

    def _attempt(self, lead) -> LeadAttempt:
        refused = self.refused.get(lead.pk, [])
        if lead.state == Lead.State.SYNCED:
            outcome = LeadAttempt.Outcome.SYNCED_WITHOUT if refused else LeadAttempt.Outcome.SYNCED
            message = (f"Synced without {', '.join(refused)}: the CRM refused {'them' if len(refused) > 1 else 'it'}."
                       if refused else "")
        elif lead.state == Lead.State.FAILED:
            outcome, message = LeadAttempt.Outcome.FAILED, lead.last_error
        elif lead.retry_at is not None:
            outcome, message = LeadAttempt.Outcome.RETRY, lead.last_error
        else:
            outcome, message = LeadAttempt.Outcome.INTERRUPTED, lead.last_error
        return new_row(LeadAttempt, {
            "lead_id": lead.pk, "run_id": self.run.pk if self.run is not None else None,
            "at": lead.last_attempt_at or timezone.now(), "number": lead.attempts, "outcome": outcome,
            "error_code": "" if lead.state == Lead.State.SYNCED else lead.error_code, "message": message,
            "refused_fields": refused, "crm_id": lead.crm_id})

    def _interrupted(self, leads, exc):
        """Leads left pending by an error that ended the push: why, and when they are tried again."""
        retryable = getattr(exc, "retryable", False) and not getattr(exc, "daily", False)
        code = (str(exc.code) if getattr(exc, "code", None) else
                UNREACHABLE if isinstance(exc, HostError) else
                f"http-{exc.status}" if getattr(exc, "status", None) else type(exc).__name__.lower())
        for lead in leads:
            if lead.error_code == LOST:  # a lost create answer, recorded by _create: its words stay
                message, lead_code = lead.last_error, LOST
            else:
                message, lead_code = f"The push was interrupted: {exc}", code
            if retryable or lead_code == LOST:
                self._retry_later(lead, message, code=lead_code)
            else:  # the account's problem (credentials, the daily limit), not the lead's: it waits as it is
                lead.last_error, lead.error_code = message, lead_code

    def _known_crm_ids(self, emails) -> dict:
        """{e-mail: CRM id} from leads already synced to this CRM account. Read by the lower-cased
        e-mail alone (its index: a planner offered the state too may scan every synced lead) and
        narrowed here."""
        if not emails:
            return {}
        on_account = set(Integration.objects.filter(crm_connection=self.integration.crm_connection)
                         .values_list("pk", flat=True))
        rows = rows_in(Lead, "email", emails, lower=True,
                       select=["email", "crm_id", "state", "integration", "synced_at"])
        synced = sorted(((synced_at, email.lower(), crm_id) for email, crm_id, state, integration_id, synced_at
                         in rows if state == Lead.State.SYNCED and crm_id and integration_id in on_account),
                        key=lambda row: (row[0] is not None, row[0]))
        return {email: crm_id for _, email, crm_id in synced}  # the last synced wins, as before

    def _look_up(self, items, known, asked):
        """Ask the CRM which of these leads it has. Leads whose create went unanswered: one read of
        what the CRM created around the moments those creates were sent (getLeadsDateRange by
        create time, matched by e-mail); duplicates (301), and those when the CRM cannot read by
        date: getLeads by e-mail, one call each."""
        unanswered = [item for item in items if item.uncertain and not item.duplicate]
        if unanswered:
            margin = timedelta(seconds=schema.CLOCK_MARGIN_SECONDS)
            start = min(item.sent_at for item in unanswered) - margin
            end = min(max(item.sent_at for item in unanswered) + margin, timezone.now() + margin)
            try:
                created = yield from self._created_between(start, end)
            except ApiError as exc:
                if exc.retryable:
                    raise
                created = None  # a CRM without this read: ask by e-mail below
            if created is not None:
                for item in unanswered:
                    asked.add(item.email)
                    if item.email in created:
                        known[item.email] = created[item.email]
                    self._answered(item)
                items = [item for item in items if item not in unanswered]
        if not items:
            return
        found = yield CallNeeded(self.client.get_leads_by_email, {item.address for item in items})
        for item in items:
            asked.add(item.email)
            match = found.get(item.address) or found.get(item.email)
            if match and match.get("id"):
                known[item.email] = str(match["id"])
            self._answered(item)

    def _created_between(self, start, end) -> dict:
        """{e-mail: CRM id} of the leads the CRM created between start and end."""
        created = yield CallNeeded(self.client.get_leads_date_range, start, end, timestamp="create",
                                fields=["id", schema.EMAIL_FIELD])
        return {str(lead.get(schema.EMAIL_FIELD) or "").strip().lower(): str(lead["id"])
                for lead in created if lead.get("id")}

    @staticmethod
    def _answered(item):
        """The CRM has been asked about the lead: whatever its lost create did is known now."""
        item.sent_at = item.lead.create_sent_at = None

    def _create(self, items, batch, known, asked, counts):
        """createLeads. Never resent blindly once it may have reached the CRM (see
        CrmClient.create_leads): after a timeout, a 5xx or a lost answer, what the CRM created is
        found out in one read (`_find_created`) and the rest is created in the next step; when the
        CRM stays away, the lost answer is recorded on the leads and raised, and the next push looks
        them up. The attempt is recorded before the call: a process that dies during it leaves leads
        the next push knows it tried, and looks up before creating them again.

        Each item created brings along the later submissions of its e-mail in the batch (`riders`):
        one object, their answers merged oldest first; they share its outcome."""
        riders = self._riders(items, batch)
        everyone = [member for item in items for member in (item, *riders[item])]
        started = timezone.now()
        for member in everyone:
            member.lead.create_sent_at = started
        _mark_sent([member.lead for member in everyone], started)
        try:
            results = yield CallNeeded(self.client.create_leads, [self._merged(item, riders[item]) for item in items])
        except (HostError, ServerError, BadPayload) as exc:
            # The call may have reached the CRM, and its answer did not come (or came garbled).
            if self._heals < MAX_HEALS and (yield from self._find_created(everyone, known, asked, since=started,
                                                                            error=exc)):
                self._heals += 1
                return
            for member in everyone:
                member.sent_at = started
                member.lead.last_error, member.lead.error_code = ANSWER_LOST.format(error=exc.message), LOST
            raise
        except ApiError:
            # Refused before any work (a rate or daily limit, credentials): nothing was created.
            for member in everyone:
                member.lead.create_sent_at = None
            raise
        for member in everyone:
            member.lead.create_sent_at = None
        for item, result in zip(items, results):
            if result.success:
                known[item.email] = result.id
                for member in (item, *riders[item]):
                    member.done = True
                    self._ok(member.lead, result.id)
                counts.created += 1
                counts.updated += len(riders[item])
            elif result.error_code == schema.ENTRY_EXISTS_CODE:
                item.duplicate = True
            elif not self._refusal_settled(item, result, counts, sent=self._merged(item, riders[item])):
                self._strip_refused(item, result, riders[item])  # sent again without them in the next step

    @staticmethod
    def _riders(items, batch) -> dict:
        """{item being created: the later submissions of its e-mail in the batch, oldest first}."""
        creating = {item.email: item for item in items}
        riders = {item: [] for item in items}
        for other in batch:
            head = creating.get(other.email)
            if (head is not None and other is not head and not other.done and not other.crm_id
                    and not other.duplicate):
                riders[head].append(other)
        return riders

    def _merged(self, item, riders) -> dict:
        """The CRM object of a person's submissions: the oldest's, each later one overwriting."""
        if not riders:
            return self.objects[item.lead.pk]
        merged = dict(self.objects[item.lead.pk])
        for rider in riders:
            merged.update(self.objects[rider.lead.pk])
        return merged

    def _find_created(self, items, known, asked, *, since, error) -> bool:
        """After a createLeads whose answer did not come: wait as the retry policy says, then read
        the leads the CRM created since the call began (getLeadsDateRange by create time, one call,
        matched by e-mail) and adopt their CRM ids; the others were not created and are created in
        the next step (their e-mails count as asked, so they are not looked up one by one). False
        when the CRM cannot be read either: the caller gives up for this run."""
        policy = self.client.retry
        yield CallNeeded(policy.sleep, policy.delay(1, error))
        margin = timedelta(seconds=schema.CLOCK_MARGIN_SECONDS)
        try:
            ids = yield from self._created_between(since - margin, timezone.now() + margin)
        except ApiError:
            return False
        for item in items:
            asked.add(item.email)
            self._answered(item)
            if item.email in ids:
                known[item.email] = ids[item.email]
        logger.warning("%s: createLeads answered %s; %d of %d leads were created by it and are adopted, the others "
                       "are created again", self.integration, error, sum(i.email in ids for i in items), len(items))
        return True

    def _update(self, pairs, known, counts):
        """updateLeadsV2 by CRM id; a CRM lead that no longer exists (404) makes its lead be created again."""
        for item, crm_id in pairs:
            item.lead.crm_id = crm_id
        results = yield CallNeeded(self.client.update_leads_v2,
                                [{**self.objects[item.lead.pk], "id": crm_id} for item, crm_id in pairs])
        for (item, crm_id), result in zip(pairs, results):
            if result.success or result.error_code == schema.NO_ROWS_AFFECTED_CODE:
                item.done = True
                self._ok(item.lead, crm_id)
                counts.updated += 1
            elif result.error_code == schema.RECORD_NOT_FOUND_CODE:
                item.crm_id, item.gone, item.lead.crm_id = "", True, ""
                if known.get(item.email) == crm_id:
                    del known[item.email]
            elif not self._refusal_settled(item, result, counts):
                self._strip_refused(item, result)

    def _refusal_settled(self, item, result, counts, sent=None) -> bool:
        """A refusal that ends this push of the lead: an error that may pass (tried again later) or
        a refusal of the whole lead (failed). False for a refusal of fields the CRM names, which are
        left out and the lead sent again (`_strip_refused`)."""
        code, message = result.error_code, _crm_error(result)
        if code in schema.TRANSIENT_OBJECT_CODES:
            item.done = True
            self._retry_later(item.lead, message, code=str(code))
            return True
        sent = self.objects[item.lead.pk] if sent is None else sent
        fields = [name for name in result.error_fields if name in sent]
        if code in schema.FIELD_ERROR_CODES and fields and not set(fields) & set(schema.REQUIRED_FIELDS):
            return False
        item.done = True
        self._fail(item.lead, message, counts, code=str(code) if code is not None else "")
        return True

    def _strip_refused(self, item, result, riders=()):
        """Leave the fields the CRM refused out of the lead's object (and of the later submissions
        sent with it), and say so on their outcomes."""
        note = f"refused by the CRM, left out: {_crm_error(result)}"
        for member in (item, *riders):
            lead, sent = member.lead, self.objects[member.lead.pk]
            fields = [name for name in result.error_fields if name in sent]
            if not fields:
                continue
            for name in fields:
                del sent[name]
            self.refused.setdefault(lead.pk, []).extend(fields)
            outcomes = [dict(outcome) for outcome in lead.field_outcomes or []]
            for outcome in outcomes:
                if outcome.get("crm_field") in fields and outcome.get("status") in engine.SENT_STATUSES:
                    outcome["status"], outcome["message"] = "error", note
            lead.field_outcomes = outcomes
            logger.info("%s: the CRM refused %s of lead %s; it is sent again without them", self.integration,
                        ", ".join(fields), lead.pk)

    def _retry_later(self, lead, message, *, code):
        """A push that ended in an error that may pass: the lead waits for a later scheduled sync,
        twice as long each time, until it has been tried LEADSYNC_LEAD_RETRIES times in a row."""
        lead.retries += 1
        lead.error_code = code
        if lead.retries >= settings.LEADSYNC_LEAD_RETRIES:
            lead.state, lead.retry_at = Lead.State.FAILED, None
            lead.last_error = (f"{message} Given up after {lead.retries} tries in a row: retry it once the cause is "
                               "fixed.")
            return
        delay = min(settings.LEADSYNC_LEAD_RETRY_DELAY * 2 ** (lead.retries - 1), settings.LEADSYNC_LEAD_RETRY_MAX_DELAY)
        lead.retry_at = timezone.now() + timedelta(seconds=delay)
        lead.last_error = message

    @staticmethod
    def _fail(lead, message, counts, *, code=""):
        lead.state = Lead.State.FAILED
        lead.last_error = message
        lead.error_code = code
        lead.retry_at = None
        counts.failed += 1

    @staticmethod
    def _ok(lead, crm_id):
        lead.state, lead.create_sent_at = Lead.State.SYNCED, None
        lead.crm_id = crm_id or lead.crm_id
        lead.last_error = lead.error_code = ""
        lead.retries, lead.retry_at = 0, None
        lead.synced_at = timezone.now()


# What a push reads of a lead (Pusher and _save: the answers, never the raw lead, and what it
# records). Leads are read back a batch at a time; each column less is a conversion less per lead
# (SQLite's datetimes cost most). A field not listed here would be read lead by lead on first use.
PUSH_FIELDS = ("integration", "submitted_at", "answers", "attempts", "create_sent_at", "crm_id", "error_code",
               "field_outcomes", "last_attempt_at", "last_error", "retries", "retry_at", "state", "synced_at")

_PUSH_ATTNAMES = frozenset({"id", *(Lead._meta.get_field(name).attname for name in PUSH_FIELDS)})
# How many batches' worth of just-inserted leads a push keeps for its next batches (memory stays
# bounded by a few batches whatever the window; beyond that, leads are read back).
FRESH_BATCHES = 4


def _as_read_back(lead: Lead) -> Lead:
    """A lead the pull inserted, as `.only(*PUSH_FIELDS)` would read it back: the other columns
    (the raw lead above all) are dropped, so that it holds no more memory and uses no column more
    than a lead read back."""
    state = lead.__dict__
    for name in [name for name in state if name not in _PUSH_ATTNAMES and not name.startswith("_")]:
        del state[name]
    return lead


class PendingPush:
    """The push of one integration's pending leads within a sync, in batches of at most 500 (250
    with many custom fields), oldest first, each recorded before the next is sent.

    During the pull (`stored`), each whole batch of new leads is pushed while later pages are still
    read: its CRM calls run in a thread of their own, one batch at a time, and everything else of
    the batch (mapping, the marks before a create, recording the outcome) runs in the pull's
    thread at its next page, so the CRM's answer time and its per-second limit overlap LinkedIn's
    paging and the storing of pages instead of following them. After the pull, `push()` settles the
    batch in flight and pushes the rest in place. With `due_only` (scheduled syncs), a lead waiting
    to be retried is left until its time comes. With the integration's `lock` (an IntegrationLock),
    its lease is renewed before every CRM call and the push stops (LockLost) once another sync took
    the integration over. `close()` ends it whatever happened: a batch still in flight is waited for
    and recorded."""

    def __init__(self, *, integration: Integration, run: SyncRun | None = None, lock=None, due_only=False,
                 leads_qs=None, progress=None):
        self.integration, self.run, self.lock, self.progress = integration, run, lock, progress
        self.due_only = due_only
        self.base = leads_qs if leads_qs is not None else integration.leads.filter(state=Lead.State.PENDING)
        self.counts, self.last_pk, self.done = PushCounts(), 0, 0
        self.waiting = 0  # leads stored by the pull since the last push (see stored)
        self.fresh = {}   # pk -> a Lead the pull just inserted, as the push reads it (see stored)
        self._pusher = None
        self._flight = None  # (the batch, its Pusher.steps generator, the Future of its CRM call)
        self._calls = None   # the thread the CRM calls of a batch in flight run in

    @property
    def pusher(self) -> Pusher:
        if self._pusher is None:  # loads the mapping and the catalogue: only once there is work
            self._pusher = Pusher(self.integration, lock=self.lock, run=self.run)
        return self._pusher

    @property
    def batch_size(self) -> int:
        return self.pusher.batch_size

    def _remaining(self):
        qs = self.base.filter(pk__gt=self.last_pk).only(*PUSH_FIELDS)
        if self.due_only:
            qs = qs.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now()))
        return qs.order_by("pk")

    def stored(self, new: int, leads=()) -> None:
        """During the pull: `new` leads were just stored, `leads` the pending ones among them as
        inserted (pks set). A batch whose CRM answer came is recorded (and its next call sent);
        once no batch is in flight and a whole one waits, it is sent. The inserted leads are kept
        (a few batches' worth at most) so that a batch takes them as they are instead of reading
        them back; which leads a batch holds is still the database's answer (see _next_batch)."""
        self.waiting += new
        room = FRESH_BATCHES * settings.LEADSYNC_CRM_BATCH_SIZE - len(self.fresh)
        for lead in leads[:max(0, room)]:
            self.fresh[lead.pk] = _as_read_back(lead)
        self._advance(wait=False)
        if self._flight is None and self.waiting and self.waiting >= self.batch_size:  # (loads the mapping)
            batch = self._next_batch(full_only=True)
            if batch:
                self.waiting = max(0, self.waiting - len(batch))
                self._take_off(batch)

    def push(self) -> int:
        """Settle the batch in flight, then push the pending leads left, in place; returns how many
        leads this push handled in all."""
        before = self.done
        self._advance(wait=True)
        total = self.done + self._remaining().count()
        if self.run is not None:
            self.run.progress_total, self.run.progress_done = total, self.done
            self.run.save(update_fields=["progress_total", "progress_done"])
        while self.done < total:  # (nothing pending: no Pusher, which loads the mapping and catalogue)
            batch = self._next_batch()
            if not batch:
                break
            self._landed(batch, calls_run(self.pusher.steps(batch)), final=True, total=total)
        return self.done - before

    def close(self) -> None:
        """End the push whatever happened: wait for a batch in flight and record it (its errors
        are the run's already, or are logged), and stop the thread of the CRM calls."""
        try:
            if self._flight is not None:
                try:
                    self._advance(wait=True)
                except Exception:  # noqa: BLE001 - the sync is ending on an error of its own
                    logger.exception("%s: the batch in flight when the sync ended could not be recorded",
                                     self.integration)
        finally:
            self._flight = None
            if self._calls is not None:
                self._calls.shutdown(wait=True)
                self._calls = None

    def _next_batch(self, *, full_only=False) -> list:
        """The next pending leads in pk order, at most a batch. Without leads the pull just
        inserted, one query reads them; with them, the database still says which leads the batch
        holds (one that was erased, ignored or pushed by someone else meanwhile is not pending any
        more), and only those not kept are read."""
        if not self.fresh:
            batch = list(self._remaining()[: self.batch_size])
            pks = [lead.pk for lead in batch]
        else:
            pks = list(self._remaining().values_list("pk", flat=True)[: self.batch_size])
            batch = None
        if not pks or (full_only and len(pks) < self.batch_size):
            return []
        self.last_pk = pks[-1]
        if batch is None:
            kept = {pk: self.fresh.pop(pk) for pk in pks if pk in self.fresh}
            missing = [pk for pk in pks if pk not in kept]
            if missing:
                kept.update((lead.pk, lead) for lead in self.base.filter(pk__in=missing).only(*PUSH_FIELDS))
            batch = [kept[pk] for pk in pks if pk in kept]
            for pk in [pk for pk in self.fresh if pk <= self.last_pk]:  # not pending any more: never pushed here
                del self.fresh[pk]
        return batch

    def _take_off(self, batch) -> None:
        """Start a batch's push: its steps run here up to its first CRM call, which is sent in the thread."""
        self._fly(batch, self.pusher.steps(batch), answer=None, error=None)

    def _fly(self, batch, steps, *, answer, error) -> None:
        """Run the batch's steps on (here) with the last call's answer or error, up to the next call,
        which is sent in the thread; or record the batch when its steps are done."""
        self._flight = None
        try:
            call = steps.throw(error) if error is not None else steps.send(answer)
        except StopIteration as done:
            self._landed(batch, done.value)
            return
        if self._calls is None:
            self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadsync-crm")
        self._flight = (batch, steps, self._calls.submit(call))

    def _advance(self, *, wait: bool) -> None:
        """Carry the batch in flight on for as long as its calls have answered (all the way with `wait`)."""
        while self._flight is not None:
            batch, steps, future = self._flight
            if not wait and not future.done():
                return
            try:
                answer, error = future.result(), None
            except Exception as exc:  # noqa: BLE001 - thrown into the push, which decides
                answer, error = None, exc
            self._fly(batch, steps, answer=answer, error=error)

    def _landed(self, batch, counts: PushCounts, *, final=False, total=None) -> None:
        """A batch's outcome is recorded: count it on the run."""
        self.counts.add(counts)
        self.done += len(batch)
        if self.run is not None:
            run = self.run
            run.created, run.updated, run.failed = self.counts.created, self.counts.updated, self.counts.failed
            fields = ["created", "updated", "failed"]
            if final:  # while the pull runs, the run's progress is the pull's
                run.progress_done = self.done
                fields.append("progress_done")
            run.save(update_fields=fields)
        if self.progress and final:
            self.progress("push", self.done, total)
        query_log_clear()


def leads_push(*, integration: Integration, leads_qs=None, run: SyncRun | None = None, progress=None,
               lock=None, due_only=False) -> PushCounts:
    """Push the integration's pending leads (or `leads_qs`) now: see PendingPush."""
    pending = PendingPush(integration=integration, run=run, lock=lock, due_only=due_only, leads_qs=leads_qs,
                          progress=progress)
    try:
        pending.push()
    finally:
        pending.close()
    return pending.counts
