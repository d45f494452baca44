"""The standard lead fields every Lead Gen & CRM account has.

Source: the vendor's API documentation, "Lead object". Names and lengths are the vendor's; data types use
the values the API is known to report (text, textarea, picklist, country, int, bit) plus `datetime` for
the one timestamp. A length of None means the documents give none, so the sandbox enforces none.
"""

from dataclasses import dataclass, field

LEAD_STATUSES = ("unqualified", "open", "qualified", "contact", "contactWithOpp")


@dataclass(frozen=True)
class StandardField:
    system_name: str
    label: str
    data_type: str = "text"
    data_length: int | None = None
    is_required: bool = False
    in_forms: bool = True
    # Written by the CRM itself: a value sent by a client is ignored, like a sent `id` on createLeads.
    read_only: bool = False
    options: tuple[dict, ...] = field(default_factory=tuple)


STANDARD_FIELDS: tuple[StandardField, ...] = (
    StandardField("id", "Lead ID", "int", in_forms=False, read_only=True),
    StandardField("accountID", "Account ID", "int", in_forms=False),
    StandardField("ownerID", "Owner ID", "int", in_forms=False),
    StandardField("campaignID", "Campaign ID", "int", in_forms=False),
    StandardField(
        "leadStatus",
        "Lead Status",
        "picklist",
        in_forms=False,
        options=tuple(
            {"label": value[0].upper() + value[1:], "value": value, "displayOrder": str(order)}
            for order, value in enumerate(LEAD_STATUSES)
        ),
    ),
    StandardField("leadScore", "Lead Score", "int", in_forms=False),
    StandardField("persona", "Persona", "text", in_forms=False),
    StandardField("active", "Active", "bit", in_forms=False),
    StandardField("firstName", "First Name", "text", 50),
    StandardField("lastName", "Last Name", "text", 50),
    StandardField("emailAddress", "Email", "text", 150, is_required=True),
    StandardField("companyName", "Company Name", "text", 100),
    StandardField("title", "Title", "text", 255),
    StandardField("street", "Street", "text", 255),
    StandardField("city", "City", "text", 255),
    StandardField("country", "Country", "country", 255),
    StandardField("state", "State", "text", 50),
    StandardField("zipcode", "Zipcode", "text", 50),
    StandardField("website", "Website", "text"),
    StandardField("phoneNumber", "Phone Number", "text"),
    StandardField("officePhoneNumber", "Office Phone Number", "text"),
    StandardField("phoneNumberExtension", "Phone Number Extension", "text"),
    StandardField("mobilePhoneNumber", "Mobile Phone Number", "text"),
    StandardField("faxNumber", "Fax Number", "text"),
    StandardField("trackingID", "Tracking ID", "text", 255, in_forms=False),
    StandardField("description", "Description", "textarea"),
    StandardField("industry", "Industry", "text", 255),
    StandardField("isUnsubscribed", "Is Unsubscribed", "bit", in_forms=False),
    StandardField("updateTimestamp", "Update Timestamp", "datetime", in_forms=False, read_only=True),
)

STANDARD_FIELDS_BY_NAME = {f.system_name: f for f in STANDARD_FIELDS}

# dataType values createFields accepts (the ones the API has been seen to report).
CUSTOM_DATA_TYPES = ("text", "textarea", "string", "picklist", "country", "int", "boolean", "bit")

# Field types whose values are strings: for these a JSON null is an error on standard fields.
STRING_TYPES = ("text", "textarea", "string", "picklist", "country")
INTEGER_TYPES = ("int",)
FLAG_TYPES = ("bit", "boolean")
