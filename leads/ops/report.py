"""The lead-to-sales funnel behind `leadsync report`: what became of the LinkedIn leads LeadSync
stored, per integration, form, event and campaign.

The LinkedIn half (how many leads, synced, failed, pending) comes from our own rows. The sales half
is each synced lead's *current* `leadStatus` in the CRM, read at report time and never cached, since
sales staff move leads along in the CRM, not here. Many LinkedIn leads can point at one CRM lead (the
same person registered twice): stages are counted per LinkedIn lead, each reporting its CRM lead's
status, and the distinct CRM leads are counted apart.
"""

from collections import Counter
from datetime import datetime, timedelta
from functools import partial

from django.utils import timezone

from connectors.clients import crm_client
from connectors.crm import schema
from connectors.exceptions import ApiError, LeadSyncError
from connectors.linkedin import urns
from connectors.models import LinkedInEvent
from leads.models import Lead
from mappings.models import Integration

DEFAULT_DAYS = 90

CRM_STAGES = schema.LEAD_STATUSES
QUALIFIED_PLUS = ("qualified", "contact", "contactWithOpp")
OPPORTUNITY = "contactWithOpp"

# Our clock and the CRM's disagree a little, and `synced_at` is stamped after the CRM wrote the lead:
# the date-range read reaches this far beyond the moments it needs on both sides.
CRM_CLOCK_MARGIN = timedelta(seconds=schema.CLOCK_MARGIN_SECONDS)


_LEAD_STATE_COLUMNS = {
    Lead.State.SYNCED: "synced",
    Lead.State.FAILED: "failed",
    Lead.State.PENDING: "pending",
    Lead.State.SKIPPED: "skipped",
    Lead.State.DELETED: "deleted_on_linkedin",
    Lead.State.IGNORED: "ignored",
}
COUNT_KEYS = (
    "leads", *_LEAD_STATE_COLUMNS.values(),
    *CRM_STAGES, "crm_no_status", "crm_deleted", "crm_leads",
)


class ReportError(LeadSyncError):
    """The report could not be made: a CRM could not be read (after the client's own retries).
    No report is better than one whose sales half is silently missing."""


# --- reading the CRM -------------------------------------------------------------------------------

def crm_lead_statuses(*, connection, crm_ids, updated_since, client=None, progress=None) -> dict:
    """`{crm_id: leadStatus}` for the CRM leads among `crm_ids` that still exist (the status may be
    None or "" when the CRM has none); an id missing from the answer is a lead deleted in the CRM.

    Economical with the CRM's 10 calls a second: one `getLeadsDateRange` over the leads updated since
    `updated_since` (every CRM lead we wrote since then, including the ones created then, whose
    update timestamp is their creation), asking for two fields only; then one `getLead` for each id
    that answer left out: CRM leads last written before `updated_since` (an unchanged re-push answers
    302 and leaves the timestamp alone), inactive leads (the date range leaves them out) and deleted
    ones. The fallback also covers a date-range answer cut short by the CRM: whether it caps it at
    500 leads is not documented. Raises the client's `ApiError` when the CRM stays unreachable.
    """
    wanted = {str(crm_id) for crm_id in crm_ids}
    if not wanted:
        return {}
    client = client or crm_client(connection)
    found = {}
    leads = client.get_leads_date_range(
        updated_since - CRM_CLOCK_MARGIN, timezone.now() + CRM_CLOCK_MARGIN,
        timestamp="update", fields=["id", "leadStatus"],
    )
    for lead in leads:
        if lead.get("id") in wanted:
            found[lead["id"]] = lead.get("leadStatus")
    missing = sorted(wanted - found.keys())
    for done, crm_id in enumerate(missing, 1):
        lead = client.get_lead(crm_id)
        if lead is not None:
            found[crm_id] = lead.get("leadStatus")
        if progress and (done % 50 == 0 or done == len(missing)):
            progress("CRM leads read one by one", done, len(missing))
    return found


def _crm_statuses(leads, integrations, crm_reader) -> dict:
    """`{(connection_id, crm_id): leadStatus}` over every CRM connection the synced leads live in;
    a key left out is a CRM lead that no longer exists."""
    per_connection = {}
    for lead in leads:
        if lead["state"] != Lead.State.SYNCED or not lead["crm_id"]:
            continue
        connection = integrations[lead["integration_id"]].crm_connection
        ids, earliest = per_connection.get(connection, (set(), None))
        # The CRM lead was last written when we synced it; rows from before `synced_at` existed only
        # know their submission, which came earlier still.
        written = lead["synced_at"] or lead["submitted_at"]
        per_connection[connection] = (ids | {lead["crm_id"]}, min(written, earliest or written))
    statuses = {}
    for connection, (ids, earliest) in sorted(per_connection.items(), key=lambda item: item[0].name):
        try:
            answer = crm_reader(connection=connection, crm_ids=ids, updated_since=earliest)
        except ApiError as exc:
            raise ReportError(
                f"Could not read the current lead status from the CRM connection {connection.name!r}: {exc}. "
                "No report was made."
            ) from exc
        statuses.update({(connection.pk, str(crm_id)): status for crm_id, status in answer.items()})
    return statuses


# --- counting --------------------------------------------------------------------------------------

class _Tally:
    """The funnel of one group: LinkedIn leads by local state, synced leads by CRM stage."""

    def __init__(self, **identity):
        self.identity = identity
        self.counts = Counter()
        self.crm_leads = set()

    def add(self, lead, crm_key, statuses):
        self.counts["leads"] += 1
        self.counts[_LEAD_STATE_COLUMNS.get(lead["state"], lead["state"])] += 1
        if lead["state"] != Lead.State.SYNCED:
            return
        if crm_key is None:
            self.counts["crm_no_status"] += 1  # synced without a CRM id: nothing to read
        elif crm_key not in statuses:
            self.counts["crm_deleted"] += 1
        else:
            self.crm_leads.add(crm_key)
            status = statuses[crm_key]
            self.counts[status if status in CRM_STAGES else "crm_no_status"] += 1

    def as_dict(self):
        counts = {key: self.counts[key] for key in COUNT_KEYS} | {"crm_leads": len(self.crm_leads)}
        synced = counts["synced"]
        qualified = sum(counts[stage] for stage in QUALIFIED_PLUS)
        return self.identity | counts | {
            "qualified_rate": round(qualified / synced, 4) if synced else None,
            "opportunity_rate": round(counts[OPPORTUNITY] / synced, 4) if synced else None,
        }


def _event_urn(lead, integration):
    """An event lead names its event as its associated entity; a lead without one (an event ad's
    lead names the creative) still belongs to the event its form is attached to."""
    if urns.is_event_urn(lead["associated_entity_urn"]):
        return lead["associated_entity_urn"]
    event = integration.form.event
    return event.urn if event else None


def funnel_report(*, since=None, until=None, crm_reader=None, progress=None) -> dict:
    """The funnel of the non-test leads submitted in [since, until) (default: the last 90 days),
    as a JSON-ready dict: `since`, `until`, `totals` and rows `by_integration`, `by_form`,
    `by_event` and `by_campaign`. Every row carries the same counts (see `COUNT_KEYS`) and the
    conversion rates `qualified_rate` (qualified or further / synced) and `opportunity_rate`
    (contactWithOpp / synced), None without synced leads. Leads without an event or a campaign
    are only in the other groupings.

    `crm_reader(connection=, crm_ids=, updated_since=)` answers the CRM statuses (see
    `crm_lead_statuses`, the default); it is called once per CRM connection that holds synced
    leads of the window. Raises `ReportError` when a CRM cannot be read, `ValueError` for an
    empty window.
    """
    until = until or timezone.now()
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise ValueError("The report's window is empty: `since` must come before `until`.")
    crm_reader = crm_reader or partial(crm_lead_statuses, progress=progress)

    leads = list(
        Lead.objects.filter(test_lead=False, submitted_at__gte=since, submitted_at__lt=until)
        .order_by()
        .values("integration_id", "state", "crm_id", "synced_at", "submitted_at",
                "associated_entity_urn", "campaign_urn")
    )
    integrations = Integration.objects.select_related("form__event", "crm_connection").in_bulk(
        {lead["integration_id"] for lead in leads}
    )
    statuses = _crm_statuses(leads, integrations, crm_reader)

    totals = _Tally()
    by_integration, by_form, by_event, by_campaign = {}, {}, {}, {}
    for lead in leads:
        integration = integrations[lead["integration_id"]]
        form = integration.form
        crm_key = (integration.crm_connection_id, lead["crm_id"]) if lead["crm_id"] else None
        groups = [
            totals,
            _group(by_integration, integration.pk, id=integration.pk, name=str(integration),
                   form_id=form.linkedin_id, crm=integration.crm_connection.name, state=integration.state),
            _group(by_form, form.pk, id=form.pk, form_id=form.linkedin_id, name=str(form),
                   urn=urns.form_urn(form.linkedin_id)),
        ]
        if event_urn := _event_urn(lead, integration):
            groups.append(_group(by_event, event_urn, urn=event_urn, name=None))
        if lead["campaign_urn"]:
            groups.append(_group(by_campaign, lead["campaign_urn"], urn=lead["campaign_urn"], name=None))
        for tally in groups:
            tally.add(lead, crm_key, statuses)

    # The same event can be discovered through two organizations: any of its names will do.
    event_names = dict(LinkedInEvent.objects.filter(urn__in=by_event).exclude(name="").values_list("urn", "name"))
    for urn, tally in by_event.items():
        tally.identity["name"] = event_names.get(urn)

    def rows(groups, *order):
        return sorted((tally.as_dict() for tally in groups.values()),
                      key=lambda row: tuple("" if row[key] is None else row[key] for key in order))

    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "totals": totals.as_dict(),
        "by_integration": rows(by_integration, "name", "id"),
        "by_form": rows(by_form, "name", "form_id"),
        "by_event": rows(by_event, "name", "urn"),
        # LeadSync does not read campaigns from LinkedIn: their URN is all it knows of them.
        "by_campaign": rows(by_campaign, "urn"),
    }


def _group(groups, key, **identity):
    if key not in groups:
        groups[key] = _Tally(**identity)
    return groups[key]


# --- text ------------------------------------------------------------------------------------------

# (key, header, shown even when zero everywhere)
_TEXT_COLUMNS = (
    ("leads", "leads", True),
    ("synced", "synced", True),
    ("failed", "failed", True),
    ("pending", "pending", True),
    ("skipped", "skipped", False),
    ("ignored", "ignored", False),
    ("deleted_on_linkedin", "deleted on LinkedIn", False),
    *((stage, stage, True) for stage in CRM_STAGES),
    ("crm_no_status", "no CRM status", False),
    ("crm_deleted", "deleted in CRM", True),
    ("crm_leads", "CRM leads", True),
    ("qualified_rate", "qualified+", True),
    ("opportunity_rate", "with opp", True),
)
_NAME_WIDTH = 32


def _label(row, section):
    """A group as an operator knows it: its name, cut short, then what identifies it."""

    def named(name, identifier):
        if not name:
            return identifier
        name = name if len(name) <= _NAME_WIDTH else name[: _NAME_WIDTH - 3] + "..."
        return f"{name} ({identifier})"

    if section == "by_integration":
        return named(row["name"], f"form {row['form_id']}")
    if section == "by_form":
        return named(row["name"], row["form_id"])
    return named(row["name"], row["urn"])


def _cell(value):
    if isinstance(value, float):
        return f"{value:.1%}"
    return "-" if value is None else str(value)


def _table(rows, first_header, labels, columns):
    header = [first_header] + [title for _, title in columns]
    body = [[label] + [_cell(row[key]) for key, _ in columns] for row, label in zip(rows, labels)]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return [
        "  ".join([line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]).rstrip()
        for line in [header, *body]
    ]


def funnel_report_text(report) -> str:
    """The report as an operator reads it: one aligned table per grouping. Columns that are zero
    everywhere and rarely matter (skipped, deleted on LinkedIn, no CRM status) are left out."""
    sections = (("by_integration", "By integration", "integration"), ("by_form", "By form", "form"),
                ("by_event", "By event", "event"), ("by_campaign", "By campaign", "campaign"))
    everything = [report["totals"], *(row for key, _, _ in sections for row in report[key])]
    columns = [(key, title) for key, title, always in _TEXT_COLUMNS if always or any(r[key] for r in everything)]

    since, until = (datetime.fromisoformat(report[k]).isoformat(timespec="seconds") for k in ("since", "until"))
    lines = [
        f"Lead-to-sales funnel of the LinkedIn leads submitted from {since} to {until} (test leads left out).",
        "CRM stages: each synced lead's current leadStatus in the CRM. CRM leads: distinct CRM leads behind them.",
        "qualified+: qualified, contact or contactWithOpp over synced. with opp: contactWithOpp over synced.",
        "",
        *_table([report["totals"]], "", ["all leads"], columns),
    ]
    for key, title, first_header in sections:
        lines += ["", title]
        rows = report[key]
        if rows:
            lines += _table(rows, first_header, [_label(row, key) for row in rows], columns)
        else:
            lines.append("  (none)")
    return "\n".join(lines)

