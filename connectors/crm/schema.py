"""What the Lead Gen & CRM (SharpSpring) API says about itself, written down once: its limits, its
lead object (standard fields, their lengths and types, the required field, the lead statuses) and
its error codes. The client, the mapping engine, the report and the admin all read them from here,
so they cannot drift apart.

Source: the vendor's API documentation for Lead Gen & CRM (formerly SharpSpring), v1.2: the request
and response envelope, the limits, the lead methods and the lead object.
"""

import types

DEFAULT_API_URL = "https://api.sharpspring.com/pubapi/v1.2/"
# v1.2 reads and writes timestamps as `Y-m-d H:i:s` in UTC.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# --- limits -------------------------------------------------------------------------------------------
MAX_OBJECTS = 500        # objects per bulk call (createLeads, updateLeads, getLeads pages …)
HEAVY_MAX_OBJECTS = 250  # per createLeads call when the objects carry many custom fields
HEAVY_CUSTOM_FIELDS = 20  # "many": more custom fields than this per lead
MAX_RPS = 10             # calls per second per account
MAX_DAILY_CALLS = 50_000  # calls per day per account

# --- the lead object ----------------------------------------------------------------------------------
EMAIL_FIELD = "emailAddress"
LEAD_STATUS_FIELD = "leadStatus"
REQUIRED_FIELDS = (EMAIL_FIELD,)
# The sales funnel's order: sales ends last.
LEAD_STATUSES = ("unqualified", "open", "qualified", "contact", "contactWithOpp")

# systemName -> max length in characters (None: not documented).
STANDARD_FIELDS = types.MappingProxyType({
    "id": None, "accountID": None, "ownerID": None, "campaignID": None, "leadStatus": None,
    "leadScore": None, "persona": None, "active": None,
    "firstName": 50, "lastName": 50, "emailAddress": 150, "companyName": 100, "title": 255,
    "street": 255, "city": 255, "country": 255, "state": 50, "zipcode": 50,
    "website": None, "phoneNumber": None, "officePhoneNumber": None, "phoneNumberExtension": None,
    "mobilePhoneNumber": None, "faxNumber": None, "trackingID": 255, "description": None,
    "industry": 255, "isUnsubscribed": None, "updateTimestamp": None,
})
# Standard fields that are not text (the rest are).
STANDARD_TYPES = types.MappingProxyType({"leadScore": "int", "active": "bit", "isUnsubscribed": "bit"})

# `dataType` spellings of getFields: a field of these types refuses the whole lead (205) when sent
# a value it cannot take.
BOOLEAN_TYPES = frozenset({"bit", "boolean", "bool", "checkbox"})
INTEGER_TYPES = frozenset({"int", "integer"})
NUMBER_TYPES = INTEGER_TYPES | {"number", "float", "decimal", "currency"}


# Our clock and the CRM's disagree a little: a read by timestamp (getLeadsDateRange) reaches this
# far beyond the moments it needs, on both sides.
CLOCK_MARGIN_SECONDS = 10 * 60


def max_length(system_name):
    """The documented length limit of a standard field, or None."""
    return STANDARD_FIELDS.get(system_name)


# --- error codes ("Response") -------------------------------------------------------------------------
AUTH_ERROR_CODES = frozenset({103, 104, 105})
DAILY_LIMIT_CODE = 106
RATE_LIMIT_CODES = frozenset({107, 209})
ENTRY_EXISTS_CODE = 301      # createLeads: a lead with this e-mail exists
NO_ROWS_AFFECTED_CODE = 302  # an update that changed nothing (the lead already says so)
RECORD_NOT_FOUND_CODE = 404  # updateLeadsV2 / deleteLeads: no lead with that id
# Per-object errors that may be about one field's value (invalid parameters, object malformed, a
# foreign key such as ownerID or campaignID that does not exist): when the error names fields the
# object carries, the object is sent again without them.
FIELD_ERROR_CODES = frozenset({205, 208, 303})
# Per-object errors that may pass by themselves: the lead is tried again later, boundedly.
TRANSIENT_OBJECT_CODES = RATE_LIMIT_CODES | {DAILY_LIMIT_CODE, 999}
