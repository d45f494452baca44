"""LinkedIn URNs, read and written in this one place (LinkedIn's Lead Sync API and schema).

Two kinds of caller, two kinds of error: what LinkedIn sent (a lead, a notification, a form) that is
not a URN raises BadPayload, so the lead or field it came in is recorded as malformed; an argument
our own code passes that is not the URN it should be raises ValueError, before any call is made.
Pure functions: no Django, no HTTP.
"""

import re

from connectors.exceptions import BadPayload
from connectors.linkedin.restli import union_member

_URN = re.compile(r"urn:li:([A-Za-z]+):(\S.*)")
_VERSIONED_FORM = re.compile(
    r"urn:li:versionedLeadGenForm:\(\s*urn:li:leadGenForm:([^\s,()]+)\s*,\s*(\d+)\s*\)"
)
_FORM = re.compile(r"urn:li:leadGenForm:([^\s,()]+)")
# urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:321,4): the last number is the consent id.
_CONSENT = re.compile(r"urn:li:leadGenFormConsent:\(.*,\s*(\d+)\s*\)")

# Lead form and response owners are a union keyed by the URN's entity type (the Lead Sync schema).
OWNER_TYPES = ("organization", "sponsoredAccount")
ORGANIZATION = "organization"
SPONSORED_ACCOUNT = "sponsoredAccount"
EVENT = "event"
PERSON = "person"
LEAD_FORM = "leadGenForm"
LEAD_RESPONSE = "leadGenFormResponse"


def _split(urn):
    match = _URN.fullmatch(urn.strip()) if isinstance(urn, str) else None
    return (match[1], match[2]) if match else None


def make_urn(entity_type, entity_id):
    """`make_urn("event", 1)` -> "urn:li:event:1"."""
    return f"urn:li:{entity_type}:{entity_id}"


def parse_urn(urn):
    """`urn:li:leadGenFormQuestion:1` -> ("leadGenFormQuestion", "1"). Compound ids such as
    `(urn:li:leadGenForm:1,2)` are returned whole: only the caller knows how to read them."""
    parts = _split(urn)
    if parts is None:
        raise BadPayload(f"not a LinkedIn URN: {urn!r:.80}")
    return parts


def urn_type(urn):
    """`urn:li:event:1` -> "event"; ValueError for an argument that is not a LinkedIn URN."""
    parts = _split(str(urn))
    if parts is None:
        raise ValueError(f"not a LinkedIn URN: {urn!r}")
    return parts[0]


def as_urn(value, entity_type):
    """A URN of `entity_type` from the URN itself or its bare id; ValueError for a URN of another type."""
    text = str(value)
    if text.startswith("urn:"):
        if urn_type(text) != entity_type:
            raise ValueError(f"expected a {entity_type} URN, got {value!r}")
        return text
    return make_urn(entity_type, text)


def urn_id(value, entity_type):
    """The id inside a URN of `entity_type` (or the bare id itself)."""
    return _split(as_urn(value, entity_type))[1]


def is_event_urn(urn):
    return isinstance(urn, str) and urn.startswith(f"urn:li:{EVENT}:")


# --- lead forms ---------------------------------------------------------------------------------------

def form_urn(form_id):
    return make_urn(LEAD_FORM, form_id)


def versioned_form_urn(form_id, version):
    return f"urn:li:versionedLeadGenForm:({form_urn(form_id)},{int(version)})"


def parse_versioned_form_urn(urn):
    """Returns (form_id, version). LinkedIn's own webhook example writes `(urn:li:leadGenForm:1, 1)`
    with a space, and older payloads name a plain leadGenForm URN: its version is None."""
    if isinstance(urn, str):
        if match := _VERSIONED_FORM.fullmatch(urn.strip()):
            return match[1], int(match[2])
        if match := _FORM.fullmatch(urn.strip()):
            return match[1], None
    raise BadPayload(f"not a lead form URN: {urn!r:.80}")


def form_id_of(value):
    """A form id from an event's `leadGenForm`: a leadGenForm or versionedLeadGenForm URN, a record
    naming one, or a bare id. None when there is none."""
    if isinstance(value, dict):
        value = value.get("leadGenForm") or value.get("versionedLeadGenForm") or value.get("id")
    if value is None:
        return None
    text = str(value)
    if text.startswith("urn:li:versionedLeadGenForm") or text.startswith("urn:li:leadGenForm"):
        return parse_versioned_form_urn(text)[0]
    return text


def consent_id(urn):
    """The consent id of a legacy `urn:li:leadGenFormConsent:(legal info URN,id)`, or None."""
    match = _CONSENT.fullmatch(urn.strip()) if isinstance(urn, str) else None
    return match[1] if match else None


# --- owners -------------------------------------------------------------------------------------------

def owner_urn(owner):
    """The URN inside an owner union ({"organization": …} or {"sponsoredAccount": …})."""
    if owner is None or isinstance(owner, str):
        return owner
    _, value = union_member(owner)
    if not (isinstance(value, str) and value.startswith("urn:")):
        raise BadPayload("owner is not an organization or sponsoredAccount URN union")
    return value


def owner_union(urn):
    """The owner union (`{"organization": urn}` / `{"sponsoredAccount": urn}`) of an owner URN;
    ValueError for any other URN."""
    key = urn_type(urn)
    if key not in OWNER_TYPES:
        raise ValueError(f"a lead form owner is an organization or sponsoredAccount URN, got {urn!r}")
    return {key: str(urn)}
