"""What the granted scopes and roles allow (LGF-007): pure rules over stored connection data,
used at connection time, by the heartbeat and before every sync."""

from connectors.models import LinkedInConnection, LinkedInOwner

# Roles that may read an organization's lead forms and leads (reference page, "Organizations").
LEAD_ROLES = ("ADMINISTRATOR", "LEAD_GEN_FORMS_MANAGER")
LEADS_SCOPE = "r_marketing_leadgen_automation"
EVENT_LEADS_SCOPE = "r_events_leadgen_automation"
# What each scope makes possible (reference page, "OAuth": scopes for lead sync).
SCOPE_BLOCKS = {
    "r_organization_admin": "cannot list the organizations the member administers",
    "r_ads": "cannot read ad accounts or their sponsored lead forms",
    "r_events": "cannot read the organizations' events",
}


def permission_problems(scopes, *, roles=None) -> list[str]:
    """What the granted `scopes` (and the member's organization `roles`, when known) keep
    LeadSync from doing, in words an operator can act on. Unknown scopes (empty) check nothing."""
    if not scopes:
        return []
    granted = set(scopes)
    problems = []
    if LEADS_SCOPE not in granted:
        if EVENT_LEADS_SCOPE in granted:
            problems.append(f"cannot read sponsored, company or product page leads: scope {LEADS_SCOPE} not granted "
                            f"(event leads are still readable through {EVENT_LEADS_SCOPE})")
        else:
            problems.append(f"cannot read lead forms or leads: scope {LEADS_SCOPE} not granted")
    for scope, blocked in SCOPE_BLOCKS.items():
        if scope not in granted:
            problems.append(f"{blocked}: scope {scope} not granted")
    if roles is not None and not any(role in LEAD_ROLES for role in roles):
        problems.append("cannot read organic (event, company and product page) leads: the member is neither "
                        "ADMINISTRATOR nor LEAD_GEN_FORMS_MANAGER of any organization")
    return problems


def sync_blockers(*, connection: LinkedInConnection, owner: LinkedInOwner, lead_types) -> list[str]:
    """Why a sync of `owner`'s leads would fail before it asks LinkedIn anything (LGF-007)."""
    blockers = []
    if connection.status != LinkedInConnection.Status.ACTIVE:
        blockers.append(f"LinkedIn connection {connection.name} needs re-authorisation: {connection.last_error}")
    granted = set(connection.scopes or [])
    if granted and LEADS_SCOPE not in granted:
        only_events = set(lead_types) <= {"EVENT"}
        if not (only_events and EVENT_LEADS_SCOPE in granted):
            blockers.append(f"cannot read {', '.join(lead_types) or 'these'} leads: scope {LEADS_SCOPE} not granted")
    if owner.kind == LinkedInOwner.Kind.SPONSORED_ACCOUNT and granted and "r_ads" not in granted:
        blockers.append("cannot read sponsored leads: scope r_ads not granted")
    if not owner.can_read_leads:
        blockers.append(f"cannot read the leads of {owner}: the member's role ({owner.role or 'none'}) does not allow it")
    return blockers
