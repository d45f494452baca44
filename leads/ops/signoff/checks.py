"""LinkedIn's technical sign-off checklist (LGF-001 … LGF-110), answered from LeadSync's own state.

In the sign-off demo an operator walks LinkedIn through the checklist line by line. This module
tells them, for each line, whether the product has already done it ("pass", with the evidence to
show), could do it but nothing shows it yet ("ready", with the exact command or admin page that
demonstrates it), or has a problem to fix first ("fail"). It reads the database and settings only,
never the network, so it answers offline and at once, and it shows names, counts, times, ids and
URNs: token columns are never even loaded.
"""

from dataclasses import dataclass, field
from datetime import timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from connectors.heartbeat import connection_alerts
from connectors.linkedin.oauth import LinkedInOAuth
from connectors.models import CrmField, LeadForm, LeadFormVersion, LinkedInConnection, LinkedInEvent, LinkedInOwner
from connectors.permissions import EVENT_LEADS_SCOPE, LEAD_ROLES, LEADS_SCOPE
from leads.models import Lead, LeadNotification, SyncRun
from leads.selectors import LEAD_STATES, lead_counts_by_integration
from mappings import engine
from mappings.models import FieldMapping, Integration

PASS, READY, FAIL = "pass", "ready", "fail"
STATUSES = (PASS, READY, FAIL)

# LinkedIn's wording, verbatim from its technical sign-off list for lead sync partners, so the report
# reads like their list.
CHECKLIST = (
    ("LGF-001", "Demonstrate OAuth 2.0 integration, with right scopes, consent screen"),
    ("LGF-002", "Demonstrate ability to periodically verify that an access token is valid (heartbeat /me)"),
    ("LGF-003", "Demonstrate ability to detect access token expiry"),
    ("LGF-004", "Demonstrate ability to retrigger OAuth Flow incase token has expired or been invalidated."),
    ("LGF-005", "Demonstrate ability to use refresh tokens to mint new access tokens."),
    ("LGF-006", "Demonstrate ability to detect refresh token expiry and retrigger OAuth Flow"),
    ("LGF-007", "Demonstrate ability to check user access and permissions to start receiving leads"),
    ("LGF-101", "Demonstrate ability to retrieve all Organizations that logged in user is an administrator of"),
    ("LGF-102", "Demonstrate ability to read all events (per organization) that have leadgen forms attached"),
    ("LGF-103", "Demonstrate ability to automatically read all fields of a form"),
    ("LGF-104", "Demonstrate ability to create datastore/tables as required for a leadgen form"),
    ("LGF-105", "Demonstrate ability to PULL all leads and store them in the data store."),
    ("LGF-106", "Demonstrate an E2E test, when a lead flows from event registration on LI all the way to data store."),
    ("LGF-107", "Demonstrate ability to recover from outages using a time-bound PULL request."),
    ("LGF-108", "Demonstrate ability to teardown, delete integrations and recreate integrations."),
    ("LGF-109", "Demonstrate a single field failure does not block the lead syncing"),
    ("LGF-110", "Demonstrate a single lead failure will not break syncing of other leads"),
)

HEARTBEAT_TASK = "connectors.heartbeat"
# A connection whose consent is this much younger than the row was re-authorised at least once.
REAUTH_EVIDENCE_GAP = timedelta(minutes=1)
LIST_LIMIT = 8
EXAMPLES = 3


@dataclass
class Finding:
    """One checklist line's answer, before it gets its id and title."""

    status: str
    evidence: list[str] = field(default_factory=list)
    how_to_demonstrate: str = ""


# --- formatting helpers ------------------------------------------------------------------------------

def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def _when(moment, now) -> str:
    """An absolute UTC time an operator can read aloud, with how long ago (or ahead) it is."""
    if moment is None:
        return "never"
    delta = now - moment
    relative = f"{_span(delta)} ago" if delta >= timedelta(0) else f"in {_span(delta)}"
    return f"{moment.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC ({relative})"


def _listing(items, limit=LIST_LIMIT) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")


def _plural(n, word, plural=None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _short(text, limit=160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _connect_url() -> str:
    return reverse("linkedin_connect")


def _integration_label(integration) -> str:
    return f"form {integration.form.linkedin_id} “{integration.name}”"


# --- what the report looks at ----------------------------------------------------------------------

class _Scope:
    """The rows the report may look at: everything, or what hangs below one LinkedIn connection
    (its organizations and ad accounts, their events and forms, the forms' integrations, their
    leads and runs). Connections are loaded without their token columns."""

    def __init__(self, connection, now):
        self.now = now
        self.connection = connection
        connections = (LinkedInConnection.objects.defer("access_token", "refresh_token")
                       .annotate(refresh_token_length=Length("refresh_token")).order_by("name"))
        self.connections = list(self._below(connections, "pk"))
        self.owners = self._below(LinkedInOwner.objects.all(), "connection")
        self.events = self._below(LinkedInEvent.objects.all(), "owner__connection")
        self.forms = self._below(LeadForm.objects.all(), "owner__connection")
        self.integrations = self._below(Integration.objects.all(), "form__owner__connection")
        self.leads = self._below(Lead.objects.all(), "integration__form__owner__connection")
        self.runs = self._below(SyncRun.objects.all(), "integration__form__owner__connection")

    def _below(self, qs, path):
        if self.connection is None:
            return qs
        return qs.filter(**{path: self.connection.pk})

    @staticmethod
    def has_refresh_token(connection) -> bool:
        return connection.refresh_token_length > 0

    def example_form_id(self) -> str:
        """A real form id for the how-to commands, so they can be pasted as they are."""
        live = self.integrations.exclude(state=Integration.State.TORN_DOWN).select_related("form").order_by("pk").first()
        if live:
            return live.form.linkedin_id
        form = self.forms.order_by(F("event").asc(nulls_last=True), "linkedin_id").first()
        return form.linkedin_id if form else "FORM_ID"


def _sandbox() -> bool:
    """Whether the how-to texts may point at the built-in sandbox's pages and fault switches."""
    return settings.LEADSYNC_SANDBOX


def _connect_how() -> str:
    return (f"Connect an account: admin → LinkedIn connections → “Connect LinkedIn account” "
            f"({_connect_url()}, LinkedIn's consent screen), or headless "
            "`leadsync linkedin add NAME --access-token T --refresh-token R`.")


def _no_connection() -> Finding:
    return Finding(READY, ["No LinkedIn connection yet."], _connect_how())


# --- Basics: the connection and its tokens -----------------------------------------------------------

def _lgf_001(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    evidence = [f"scopes LeadSync asks for at consent: {', '.join(LinkedInOAuth.SCOPES)}"]
    consented, without_leads_scope = [], []
    for c in s.connections:
        member = f"{c.member_name or 'member'}" + (f" ({c.member_urn})" if c.member_urn else "")
        scopes = ", ".join(c.scopes) if c.scopes else "not reported"
        evidence.append(f"{c.name}: {member}, consent given {_when(c.authorized_at, s.now)}; granted scopes: {scopes}")
        if c.authorized_at:
            consented.append(c)
        if c.scopes and not {LEADS_SCOPE, EVENT_LEADS_SCOPE} & set(c.scopes):
            without_leads_scope.append(c.name)
    connect = _connect_url()
    if without_leads_scope:
        return Finding(FAIL, evidence + [f"{', '.join(without_leads_scope)}: no lead scope granted "
                                         f"({LEADS_SCOPE} or {EVENT_LEADS_SCOPE}): re-connect and accept it"],
                       f"Re-connect through {connect} and grant {LEADS_SCOPE}.")
    if not consented:
        return Finding(READY, evidence + ["no consent time recorded for any connection"],
                       f"Re-connect through {connect} (admin → LinkedIn connections → “Connect LinkedIn account”) "
                       "to go through LinkedIn's consent screen.")
    return Finding(PASS, evidence,
                   f"Admin → LinkedIn connections → “Connect LinkedIn account” ({connect}) shows LinkedIn's "
                   "consent screen with these scopes; the connection's page lists what was granted.")


def _lgf_002(s: _Scope) -> Finding:
    tasks = list(PeriodicTask.objects.filter(task=HEARTBEAT_TASK).select_related("interval", "crontab"))
    enabled = [t for t in tasks if t.enabled]
    evidence = [f"beat schedule “{t.name}”: {'enabled' if t.enabled else 'DISABLED'}, "
                f"{t.interval or t.crontab or 'no schedule'}; "
                + (f"beat last ran it {_when(t.last_run_at, s.now)}" if t.last_run_at else "beat has not run it yet")
                for t in tasks] or ["no beat schedule runs the heartbeat (task connectors.heartbeat)"]
    how = ("`leadsync linkedin heartbeat [NAME]` checks now (admin: LinkedIn connections → “Check the tokens now”); "
           f"the schedule is under Periodic tasks ({reverse('admin:django_celery_beat_periodictask_changelist')}).")
    if not s.connections:
        return Finding(READY, evidence + ["No LinkedIn connection to check yet."], _connect_how())
    broken = []
    for c in s.connections:
        result = {True: "token valid", False: "FAILED", None: "no result"}[c.last_heartbeat_ok]
        line = f"{c.name}: last heartbeat {_when(c.last_heartbeat_at, s.now)}" + (
            f", {result}" if c.last_heartbeat_at else "")
        if c.last_heartbeat_ok is False and c.status == LinkedInConnection.Status.ACTIVE:
            # The check itself could not conclude (LinkedIn unreachable, …); a flagged connection
            # is a heartbeat that did its job, and LGF-004 reports it.
            line += f" ({_short(c.last_error) or 'no reason recorded'})"
            broken.append(c.name)
        evidence.append(line)
    if not enabled:
        return Finding(FAIL, evidence, "Enable the heartbeat's schedule under Periodic tasks, or delete it: the next "
                                       "`leadsync linkedin add` creates it again (hourly). " + how)
    if broken:
        return Finding(FAIL, evidence, "Run `leadsync linkedin heartbeat` once LinkedIn is reachable; " + how)
    if not any(c.last_heartbeat_at for c in s.connections):
        return Finding(READY, evidence, how)
    return Finding(PASS, evidence, how)


def _introspection_on() -> bool:
    return bool(settings.LINKEDIN_CLIENT_ID and settings.LINKEDIN_CLIENT_SECRET)


def _lgf_003(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    evidence, unknown, unnoticed, detected = [], [], [], []
    for c in s.connections:
        if c.access_token_expires_at is None:
            unknown.append(c.name)
            evidence.append(f"{c.name}: access token expiry unknown")
        else:
            evidence.append(f"{c.name}: access token expires {_when(c.access_token_expires_at, s.now)}"
                            + ("" if c.status == LinkedInConnection.Status.ACTIVE else f"; {c.token_state(s.now)}"))
        if (c.status == LinkedInConnection.Status.ACTIVE and c.access_token_expired(s.now)
                and not s.has_refresh_token(c)
                and (c.last_heartbeat_at is None or c.last_heartbeat_at < c.access_token_expires_at)):
            unnoticed.append(c.name)
        if c.status != LinkedInConnection.Status.ACTIVE and c.last_error:
            detected.append(f"{c.name}: detected: {_short(c.last_error)}")
    evidence += detected
    if _introspection_on():
        evidence.append("token introspection on: each heartbeat asks LinkedIn whether the token is active, "
                        "expired or revoked")
    else:
        evidence.append("token introspection off (LINKEDIN_CLIENT_ID / LINKEDIN_CLIENT_SECRET not set): "
                        "expiry is known only from expires_in and from 401 answers")
    how = "`leadsync linkedin heartbeat NAME` introspects the token and records its expiry; `leadsync status` shows it."
    if _sandbox():
        how += (" On the sandbox, `manage.py sandbox_linkedin_fault --expire-access-tokens` then "
                "`leadsync linkedin heartbeat` shows the expiry detected and the token renewed.")
    if unnoticed:
        return Finding(FAIL, evidence + [f"{', '.join(unnoticed)}: access token expired with no refresh token and no "
                                         "heartbeat has run since: is celery beat running?"], how)
    if unknown or not _introspection_on():
        return Finding(READY, evidence, how)
    return Finding(PASS, evidence, how)


def _lgf_004(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    connect = _connect_url()
    evidence, stuck, reauthorised = [], [], []
    for c in s.connections:
        if c.status != LinkedInConnection.Status.ACTIVE:
            stuck.append(c.name)
            line = f"{c.name}: {c.get_status_display().lower()}: {_short(c.last_error) or 'its tokens no longer work'}"
            if c.reauth_notified_at:
                line += f"; admins e-mailed {_when(c.reauth_notified_at, s.now)}"
            evidence.append(line)
        elif c.authorized_at and c.created_at and c.authorized_at - c.created_at > REAUTH_EVIDENCE_GAP:
            reauthorised.append(c.name)
            evidence.append(f"{c.name}: re-authorised {_when(c.authorized_at, s.now)} "
                            f"(first connected {_when(c.created_at, s.now)})")
        else:
            evidence.append(f"{c.name}: active, consent given {_when(c.authorized_at, s.now)}")
    how = (f"Re-connect through {connect} (the red admin banner links there) or `leadsync linkedin add NAME "
           "--access-token T --refresh-token R` for the same NAME; syncs resume from the watermark.")
    if stuck:
        return Finding(FAIL, evidence, how)
    if _sandbox():
        member = next((c.member_urn.rsplit(":", 1)[-1] for c in s.connections if c.member_urn), "MEMBER_ID")
        how = (f"On the sandbox: `manage.py sandbox_linkedin_fault --revoke-member {member}`, then `leadsync linkedin "
               "heartbeat` flags the connection (red banner, admins e-mailed). " + how)
    return Finding(PASS if reauthorised else READY, evidence, how)


def _lgf_005(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    margin = settings.LEADSYNC_TOKEN_REFRESH_MARGIN_HOURS
    evidence = [f"{c.name}: " + (f"access token last renewed {_when(c.last_refreshed_at, s.now)}"
                                  if c.last_refreshed_at else "never renewed yet")
                + ("" if s.has_refresh_token(c) else "; LinkedIn issued no refresh token")
                + f"; now {c.token_state(s.now)}"
                for c in s.connections]
    how = (f"Heartbeats renew a token {margin} hours before it expires and a 401 triggers one refresh; "
           "`leadsync linkedin heartbeat NAME` does it now when due.")
    if _sandbox():
        how += (" On the sandbox: `manage.py sandbox_linkedin_fault --expire-access-tokens`, then "
                "`leadsync linkedin heartbeat`.")
    if not any(s.has_refresh_token(c) for c in s.connections):
        return Finding(FAIL, evidence, "Enable programmatic refresh tokens for the LinkedIn app, then re-connect "
                                       f"through {_connect_url()}. " + how)
    if any(c.last_refreshed_at for c in s.connections):
        return Finding(PASS, evidence, how)
    return Finding(READY, evidence, how)


def _lgf_006(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    warning_days = settings.LEADSYNC_REAUTH_WARNING_DAYS
    evidence, expired, unknown, tracked = [], [], [], []
    for c in s.connections:
        if not s.has_refresh_token(c):
            evidence.append(f"{c.name}: no refresh token; the countdown follows the access token "
                            f"(expires {_when(c.access_token_expires_at, s.now)})")
        elif c.refresh_token_expires_at is None:
            unknown.append(c.name)
            evidence.append(f"{c.name}: refresh token expiry unknown")
        else:
            tracked.append(c.name)
            evidence.append(f"{c.name}: refresh token expires {_when(c.refresh_token_expires_at, s.now)}")
            if c.refresh_token_expired(s.now):
                expired.append(c.name)
    banner = [a["message"] for a in connection_alerts(s.connections, now=s.now)
              if a["level"] == "warning" and "days" in a]
    evidence += [f"banner now: {m}" for m in banner] or [
        f"no countdown shown yet: the yellow banner appears {warning_days} days before the deadline"]
    how = (f"The yellow admin banner counts down from {warning_days} days (LEADSYNC_REAUTH_WARNING_DAYS) and links to "
           f"{_connect_url()}; a dead refresh token turns the connection to "
           "“needs re-authorisation” at the next heartbeat.")
    if _sandbox():
        how += (" On the sandbox: `manage.py sandbox_linkedin_fault --refresh-lifetime 86400`, re-connect, and the "
                "banner counts down.")
    if expired:
        return Finding(FAIL, evidence + [f"{', '.join(expired)}: refresh token expired: re-connect"], how)
    if unknown or not tracked:
        return Finding(READY, evidence, f"Re-connect through {_connect_url()} (LinkedIn reports "
                                        "refresh_token_expires_in) or pass --refresh-expires-in to `leadsync linkedin "
                                        "add`. " + how)
    return Finding(PASS, evidence, how)


def _lgf_007(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    evidence, problems = [], []
    for c in s.connections:
        if c.permission_problems:
            problems += [f"{c.name} {p}" for p in c.permission_problems]
        else:
            evidence.append(f"{c.name}: granted scopes and organization roles allow reading leads; "
                            f"last checked {_when(c.last_heartbeat_at, s.now)}")
    readable = s.owners.filter(kind=LinkedInOwner.Kind.ORGANIZATION, role__in=LEAD_ROLES).count()
    evidence.append(f"{_plural(readable, 'organization')} where the member is {' or '.join(LEAD_ROLES)}")
    blocked = [f"{o.name or o.urn} ({o.role or 'no role'})" for o in s.owners.filter(can_read_leads=False)]
    if blocked:
        evidence.append(f"not readable, left out of syncs: {_listing(blocked)}")
    how = ("Admin → LinkedIn connections lists each connection's permission problems (and the banner names them); "
           "`leadsync linkedin heartbeat NAME` re-checks scopes and roles.")
    if problems:
        return Finding(FAIL, problems + evidence, "Grant the missing scope or role on LinkedIn, re-connect, then " + how)
    return Finding(PASS, evidence, how)


# --- Core: discovery, integrations, leads -----------------------------------------------------------

_DISCOVER_HOW = ("`leadsync discover [NAME]` (admin: LinkedIn connections → “Discover organizations, events and "
                 "forms now”).")


def _lgf_101(s: _Scope) -> Finding:
    if not s.connections:
        return _no_connection()
    all_owners = list(s.owners.order_by("kind", "name"))
    evidence, failed, empty = [], [], []
    for c in s.connections:
        owners = [o for o in all_owners if o.connection_id == c.pk]
        orgs = [o for o in owners if o.kind == LinkedInOwner.Kind.ORGANIZATION]
        accounts = [o for o in owners if o.kind == LinkedInOwner.Kind.SPONSORED_ACCOUNT]
        line = f"{c.name}: {_plural(len(orgs), 'organization')} (discovered {_when(c.discovered_at, s.now)})"
        if orgs:
            line += ": " + _listing(f"{o.name or o.urn} ({o.role or 'no role'}, {o.urn})" for o in orgs)
        evidence.append(line)
        if accounts:
            evidence.append(f"{c.name}: {_plural(len(accounts), 'ad account')}: "
                            + _listing(f"{o.name or o.urn} ({o.urn})" for o in accounts))
        if c.discovery_status.startswith("failed"):
            failed.append(f"{c.name}: last discovery {_short(c.discovery_status)}")
        elif c.discovered_at and not orgs:
            empty.append(c.name)
    if failed:
        return Finding(FAIL, failed + evidence, "Fix the reason above, then " + _DISCOVER_HOW)
    if any(o.kind == LinkedInOwner.Kind.ORGANIZATION for o in all_owners):
        return Finding(PASS, evidence, _DISCOVER_HOW + " Admin → LinkedIn organizations and ad accounts lists them.")
    if empty:
        return Finding(FAIL, evidence + [f"{', '.join(empty)}: discovery found no organization where the member is "
                                         f"{' or '.join(LEAD_ROLES)}"],
                       "Give the member one of these roles on the organization's page, then " + _DISCOVER_HOW)
    return Finding(READY, evidence, _DISCOVER_HOW)


def _lgf_102(s: _Scope) -> Finding:
    events = list(s.events.select_related("owner").order_by("owner__name", "-starts_at", "name"))
    with_form = [e for e in events if e.lead_form_urn]
    evidence = []
    by_owner = {}
    for e in events:
        by_owner.setdefault(e.owner, []).append(e)
    for owner_, owner_events in by_owner.items():
        carrying = [e for e in owner_events if e.lead_form_urn]
        line = f"{owner_.name or owner_.urn}: events with a lead form: {len(carrying)} of {len(owner_events)}"
        if carrying:
            line += ": " + _listing(f"{e.name or e.urn} ({e.urn}, form {e.lead_form_urn})" for e in carrying)
        evidence.append(line)
    if with_form:
        return Finding(PASS, evidence, _DISCOVER_HOW + " Admin → LinkedIn events lists them with their form.")
    if not any(c.discovered_at for c in s.connections) and not events:
        return Finding(READY, evidence or ["No event discovered yet."], _DISCOVER_HOW)
    how = "Attach a registration (lead gen) form to an event on LinkedIn"
    how += f" (sandbox: {reverse('sandbox_linkedin:index')})" if _sandbox() else ""
    return Finding(READY, evidence or ["Discovery found no event."], how + ", then " + _DISCOVER_HOW)


def _lgf_103(s: _Scope) -> Finding:
    newest_first = LeadFormVersion.objects.defer("raw").order_by("-version")
    forms = list(s.forms.select_related("owner", "event").prefetch_related(Prefetch("versions", newest_first))
                 .order_by(F("event").asc(nulls_last=True), "owner__name", "name"))
    if not forms:
        return Finding(READY, ["No lead form discovered yet."], _DISCOVER_HOW)
    evidence, unread = [], []
    read = 0
    for form in forms:
        versions = list(form.versions.all())
        if not versions:
            unread.append(f"form {form.linkedin_id} “{form}”")
            continue
        read += 1
        d = versions[0].definition
        if read <= LIST_LIMIT:
            where = form.owner.name or form.owner.urn
            where += f", event {form.event.name or form.event.urn}" if form.event else ""
            evidence.append(f"form {form.linkedin_id} “{form}” v{versions[0].version} ({where}): "
                            f"{_plural(len(d.get('questions', [])), 'question')}, "
                            f"{_plural(len(d.get('hidden_fields', [])), 'hidden field')}, "
                            f"{_plural(len(d.get('consents', [])), 'consent')}")
    evidence.insert(0, f"{read} of {_plural(len(forms), 'form')} read with all their fields")
    how = _DISCOVER_HOW + " Admin → Lead forms → a form's versions show every question, hidden field and consent."
    if unread:
        return Finding(FAIL, evidence + [f"fields not read: {_listing(unread)}"], "Run " + _DISCOVER_HOW)
    return Finding(PASS, evidence, how)


def _lgf_104(s: _Scope) -> Finding:
    integrations = list(s.integrations.select_related("form", "crm_connection").order_by("name", "pk"))
    how_enable = (f"`leadsync enable {s.example_form_id()} --crm NAME` creates the CRM custom fields the form lacks and "
                  "maps every question, hidden field, consent and lead metadata (admin: Integrations → the mapping).")
    if not integrations:
        return Finding(READY, ["No integration yet."], how_enable)
    rows = FieldMapping.objects.filter(integration__in=integrations).values_list(
        "integration_id", "crm_field", "enabled")
    mapped, total = {}, {}
    for integration_id, crm_field, enabled in rows:
        total[integration_id] = total.get(integration_id, 0) + 1
        if crm_field and enabled:
            mapped.setdefault(integration_id, []).append(crm_field)
    custom = {}
    for connection_id, system_name, label in CrmField.objects.filter(
            connection__in={i.crm_connection_id for i in integrations}, is_custom=True).values_list(
            "connection_id", "system_name", "label"):
        custom[(connection_id, system_name)] = label
    evidence, unmapped = [], []
    for i in integrations:
        fields = mapped.get(i.pk, [])
        customs = [f"{custom[(i.crm_connection_id, f)]} ({f})" for f in fields if (i.crm_connection_id, f) in custom]
        line = (f"{_integration_label(i)} → CRM {i.crm_connection.name}: {len(fields)} of "
                f"{_plural(total.get(i.pk, 0), 'source')} mapped, {len(customs)} to CRM custom fields")
        evidence.append(line + (": " + _listing(customs) if customs else ""))
        if not fields and i.state != Integration.State.TORN_DOWN:
            unmapped.append(_integration_label(i))
    if unmapped:
        return Finding(FAIL, evidence + [f"nothing mapped: {_listing(unmapped)}"],
                       "Map the form's fields in admin → Integrations (or tear down and `leadsync enable` again).")
    return Finding(PASS, evidence, how_enable)


def _last_finished_runs(integrations):
    """The state, error and time of each integration's newest finished run, in one query."""
    finished = SyncRun.objects.filter(integration=OuterRef("pk"), state__in=[SyncRun.State.SUCCEEDED, SyncRun.State.FAILED]
                                      ).order_by("-created_at", "-pk")
    return integrations.annotate(
        last_run_state=Subquery(finished.values("state")[:1]),
        last_run_error=Subquery(finished.values("error")[:1]),
        last_run_at=Subquery(finished.values("finished_at")[:1]),
    )


def _lgf_105(s: _Scope) -> Finding:
    integrations = list(_last_finished_runs(s.integrations).select_related("form", "crm_connection").order_by("name", "pk"))
    how = (f"`leadsync sync {s.example_form_id()}` pulls every lead since the watermark and stores it before pushing "
           "(admin: Integrations → “Sync now”); admin → Leads shows them.")
    if not integrations:
        return Finding(READY, ["No integration yet."], how)
    counts = lead_counts_by_integration()
    empty = dict.fromkeys(LEAD_STATES, 0)
    evidence, failing = [], []
    stored = 0
    for i in integrations:
        per = counts.get(i.pk, empty)
        n = sum(per.values())
        stored += n
        by_state = ", ".join(f"{per[state]} {state}" for state in LEAD_STATES if per[state])
        evidence.append(f"{_integration_label(i)} ({i.get_state_display().lower()}): {_plural(n, 'lead')} stored"
                        + (f" ({by_state})" if by_state else "") + f"; watermark {_when(i.watermark, s.now)}")
        if i.last_run_state == SyncRun.State.FAILED and i.state != Integration.State.TORN_DOWN:
            failing.append(f"{_integration_label(i)}: last run failed {_when(i.last_run_at, s.now)} and nothing "
                           f"succeeded since: {_short(i.last_run_error) or 'no reason recorded'}")
    evidence.insert(0, f"{_plural(stored, 'lead')} stored in LeadSync")
    if failing:
        return Finding(FAIL, failing + evidence, "Fix the reason above, then " + how)
    return Finding(PASS if stored else READY, evidence, how)


def _lgf_106(s: _Scope) -> Finding:
    event_leads = s.leads.filter(lead_type="EVENT")
    synced = event_leads.filter(state=Lead.State.SYNCED).exclude(crm_id="")
    example = (synced.select_related("integration__form__event", "integration__crm_connection")
               .defer("raw", "answers").order_by("test_lead", "-synced_at", "-pk").first())
    form_id = s.example_form_id()
    how = "Register for the event on LinkedIn"
    how += f" (sandbox: {reverse('sandbox_linkedin:index')} → register)" if _sandbox() else ""
    how += (f", then `leadsync sync {form_id}` (or wait for the schedule or the webhook) and open the lead in admin → "
            "Leads: its LinkedIn id, submitted time and CRM id.")
    if example:
        form = example.integration.form
        event_urn = example.associated_entity_urn or (form.event.urn if form.event else "")
        event_name = form.event.name if form.event and form.event.name else ""
        event = f"{event_name} ({event_urn})" if event_name and event_urn else (event_name or event_urn or "unknown")
        evidence = [
            f"{_plural(synced.count(), 'event lead')} reached the CRM",
            f"LinkedIn lead {example.linkedin_id}" + (" (a LinkedIn test lead)" if example.test_lead else "")
            + f", event {event}, form {form.linkedin_id}, submitted {_when(example.submitted_at, s.now)}",
            f"→ CRM {example.integration.crm_connection.name} lead {example.crm_id}, "
            f"synced {_when(example.synced_at, s.now)}",
        ]
        notification = LeadNotification.objects.filter(lead_id=example.linkedin_id,
                                                        action=LeadNotification.Action.CREATED).first()
        if notification:
            evidence.append(f"LinkedIn notified LeadSync by webhook {_when(notification.received_at, s.now)}")
        return Finding(PASS, evidence, how)
    failed = event_leads.filter(state=Lead.State.FAILED)
    if failed.exists():
        last = failed.order_by("-last_attempt_at", "-pk").only("linkedin_id", "last_error").first()
        return Finding(FAIL, [f"{_plural(failed.count(), 'event lead')} stored but none reached the CRM; "
                              f"e.g. lead {last.linkedin_id}: {_short(last.last_error) or 'no reason recorded'}"],
                       f"Fix the reason, then `leadsync retry-failed {form_id}`; " + how)
    evidence = [f"{_plural(event_leads.count(), 'event lead')} stored, none in the CRM yet"]
    return Finding(READY, evidence, how)


def _window_line(run, now) -> str:
    """A run as LGF-107 evidence: its window (and how many days it spans) and what it moved."""
    if run.window_start and run.window_end:
        days = round((run.window_end - run.window_start) / timedelta(days=1), 1)
        window = (f"{run.window_start.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} → "
                  f"{run.window_end.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC ({days:g} days)")
    else:
        window = "not recorded"
    return (f"run {run.pk} ({_integration_label(run.integration)}), {run.state} "
            f"{_when(run.finished_at or run.created_at, now)}: window {window}; pulled {run.pulled} ({run.new} new), "
            f"created {run.created}, updated {run.updated}, failed {run.failed}")


def _lgf_107(s: _Scope) -> Finding:
    backfills = (s.runs.filter(trigger=SyncRun.Trigger.BACKFILL).select_related("integration__form")
                 .order_by("-created_at", "-pk"))
    form_id = s.example_form_id()
    how = (f"`leadsync sync {form_id} --days 7` (up to 90) or `--since 2026-01-01T00:00:00Z` re-pulls that window; "
           "leads already stored are not doubled (admin: Integrations → the integration → backfill; Sync runs "
           "shows it).")
    succeeded = backfills.filter(state=SyncRun.State.SUCCEEDED).first()
    latest = backfills.first()
    if succeeded:
        evidence = [f"{_plural(backfills.count(), 'backfill run')}; the last that succeeded:",
                    _window_line(succeeded, s.now)]
        if latest.pk != succeeded.pk:
            evidence.append("newer: " + _window_line(latest, s.now) + (f": {_short(latest.error)}" if latest.error else ""))
        return Finding(PASS, evidence, how)
    if latest and latest.state == SyncRun.State.FAILED:
        return Finding(FAIL, [_window_line(latest, s.now) + f": {_short(latest.error) or 'no reason recorded'}"],
                       "Fix the reason, then " + how)
    if latest:
        return Finding(READY, ["a backfill is under way: " + _window_line(latest, s.now)], how)
    return Finding(READY, ["No backfill run yet."], how)


def _lgf_108(s: _Scope) -> Finding:
    integrations = list(s.integrations.select_related("form").annotate(
        lead_count=Count("leads", distinct=True), mapping_count=Count("mappings", distinct=True)).order_by("name", "pk"))
    torn = [i for i in integrations if i.state == Integration.State.TORN_DOWN]
    live = [i for i in integrations if i.state != Integration.State.TORN_DOWN]
    form_id = torn[0].form.linkedin_id if torn else s.example_form_id()
    how = (f"`leadsync teardown {form_id}` (add --purge to delete the stored leads) removes the schedule and the lead "
           f"notification subscriptions; `leadsync recreate {form_id}` brings it back from the saved mapping and resumes "
           "from the watermark without pushing a lead twice (admin: Integrations → “Tear down (keep the data)”, "
           "“Recreate from the saved mapping”).")
    evidence, unfinished = [], []
    for i in torn:
        evidence.append(f"{_integration_label(i)}: torn down {_when(i.torn_down_at, s.now)}; "
                        f"{_plural(i.mapping_count, 'mapping row')} and {_plural(i.lead_count, 'stored lead')} "
                        "kept for recreate")
        if i.periodic_task_id:
            unfinished.append(f"{_integration_label(i)}: still has a beat schedule")
        if i.webhook_subscriptions:
            unfinished.append(f"{_integration_label(i)}: lead notification subscriptions "
                              f"{', '.join(map(str, i.webhook_subscriptions))} not deleted yet")
    recreated = [i for i in live if i.recreated_at]
    for i in recreated:
        evidence.append(f"{_integration_label(i)}: recreated {_when(i.recreated_at, s.now)} from its saved mapping "
                        f"({_plural(i.mapping_count, 'mapping row')}, {_plural(i.lead_count, 'stored lead')})")
    evidence.append(f"{_plural(len(live), 'live integration')}"
                    + (": " + _listing(_integration_label(i) for i in live) if live else ""))
    if unfinished:
        return Finding(FAIL, unfinished + evidence, f"Run `leadsync teardown {form_id}` again to finish; " + how)
    if torn or recreated:
        return Finding(PASS, evidence, how)
    if not integrations:
        return Finding(READY, ["No integration yet."], f"`leadsync enable {form_id} --crm NAME` first; then " + how)
    evidence.insert(0, "no integration has been torn down or recreated yet")
    return Finding(READY, evidence, how)


def _field_problems(lead):
    return [o for o in (lead.field_outcomes or []) if isinstance(o, dict) and o.get("status") in engine.FIELD_PROBLEMS]


def _lgf_109(s: _Scope) -> Finding:
    # JSON containment is not portable (SQLite has none): narrow with a text match, decide in Python.
    candidates = (s.leads.filter(state=Lead.State.SYNCED)
                  .filter(Q(field_outcomes__icontains="error") | Q(field_outcomes__icontains="truncated"))
                  .select_related("integration__form").defer("raw", "answers").order_by("-synced_at", "-pk"))
    examples, count = [], 0
    for lead in candidates.iterator(chunk_size=500):
        problems = _field_problems(lead)
        if not problems:
            continue
        count += 1
        if len(examples) < EXAMPLES:
            what = "; ".join(f"{p.get('source_key')} → {p.get('crm_field') or '?'} {p.get('status')}"
                             + (f" ({_short(p.get('message'), 80)})" if p.get("message") else "") for p in problems[:3])
            examples.append(f"lead {lead.linkedin_id} ({_integration_label(lead.integration)}) synced as CRM lead "
                            f"{lead.crm_id or '?'} {_when(lead.synced_at, s.now)} although: {what}")
    how = ("Admin → Leads → a synced lead shows each field's outcome (ok, truncated, error, empty, unmapped). "
           "To make one: map a long answer to a short CRM field, or a choice to a CRM picklist without it, in admin → "
           f"Integrations, then `leadsync sync {s.example_form_id()} --days 90`.")
    if count:
        return Finding(PASS, [f"{_plural(count, 'synced lead')} had a field fail or truncated; the rest of each lead "
                              "reached the CRM"] + examples, how)
    return Finding(READY, ["No synced lead has a failed or truncated field yet."], how)


def _lgf_110(s: _Scope) -> Finding:
    form_id = s.example_form_id()
    how = (f"`leadsync sync {form_id}` reports created and failed leads side by side; failed ones wait in admin → Leads "
           f"with the CRM's message and `leadsync retry-failed {form_id}` pushes them again.")
    if _sandbox():
        crm = s.integrations.select_related("crm_connection").first()
        account = crm.crm_connection.account_id if crm else "ACCOUNT_ID"
        how = (f"On the sandbox: `manage.py sandbox_crm_fault --account-id {account} --reject-email '^a'` (the CRM "
               f"refuses leads whose e-mail starts with “a”), then `leadsync sync {form_id} --days 90`; "
               f"`sandbox_crm_fault --account-id {account} --reset` afterwards. " + how)
    runs = (s.runs.filter(failed__gt=0).filter(Q(created__gt=0) | Q(updated__gt=0))
            .select_related("integration__form").order_by("-created_at", "-pk"))
    run = runs.first()
    if run:
        evidence = [f"{_plural(runs.count(), 'run')} where some leads failed and the others went through; the latest:",
                    f"run {run.pk} ({_integration_label(run.integration)}, {run.get_trigger_display().lower()}, "
                    f"{_when(run.finished_at or run.created_at, s.now)}): created {run.created}, updated {run.updated}, "
                    f"failed {run.failed}, run {run.state}"]
        failed = (s.leads.filter(integration_id=run.integration_id, state=Lead.State.FAILED)
                  .only("linkedin_id", "last_error").order_by("-last_attempt_at", "-pk").first())
        if failed:
            evidence.append(f"e.g. failed lead {failed.linkedin_id}: {_short(failed.last_error) or 'no reason recorded'}")
        return Finding(PASS, evidence, how)
    mixed = list(s.integrations.select_related("form").annotate(
        failed_leads=Count("leads", filter=Q(leads__state=Lead.State.FAILED)),
        synced_leads=Count("leads", filter=Q(leads__state=Lead.State.SYNCED)),
    ).filter(failed_leads__gt=0, synced_leads__gt=0).order_by("name", "pk"))
    if mixed:
        return Finding(PASS, [f"{_integration_label(i)}: {_plural(i.synced_leads, 'lead')} synced alongside "
                              f"{i.failed_leads} failed" for i in mixed], how)
    return Finding(READY, ["No run has had a failed lead yet."], how)


CHECKS = {
    "LGF-001": _lgf_001, "LGF-002": _lgf_002, "LGF-003": _lgf_003, "LGF-004": _lgf_004, "LGF-005": _lgf_005,
    "LGF-006": _lgf_006, "LGF-007": _lgf_007, "LGF-101": _lgf_101, "LGF-102": _lgf_102, "LGF-103": _lgf_103,
    "LGF-104": _lgf_104, "LGF-105": _lgf_105, "LGF-106": _lgf_106, "LGF-107": _lgf_107, "LGF-108": _lgf_108,
    "LGF-109": _lgf_109, "LGF-110": _lgf_110,
}


# --- the report -----------------------------------------------------------------------------------

def signoff_report(*, connection: LinkedInConnection | None = None, now=None) -> dict:
    """Every checklist line with its status, evidence and how to demonstrate it, in LinkedIn's
    order. `connection` restricts it to one LinkedIn connection and what hangs below it.

    Callers may rely on: no network call, no token or secret in the result, and a plain-JSON
    result (strings, ints, lists, dicts), so it can be printed, stored or rendered as it is.
    A "fail" is a finding, not an error: the report is produced either way."""
    now = now or timezone.now()
    scope = _Scope(connection, now)
    lines = []
    for line_id, title in CHECKLIST:
        finding = CHECKS[line_id](scope)
        lines.append({"id": line_id, "title": title, "status": finding.status,
                      "evidence": finding.evidence, "how_to_demonstrate": finding.how_to_demonstrate})
    summary = {status: sum(1 for line in lines if line["status"] == status) for status in STATUSES}
    return {
        "ok": True,
        "generated_at": now.astimezone(dt_timezone.utc).isoformat(timespec="seconds"),
        "connection": connection.name if connection else None,
        "summary": summary,
        "lines": lines,
    }

