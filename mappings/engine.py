"""The mapping engine: a LinkedIn form and a lead in, a CRM lead object and per-field outcomes out.

Pure functions over a FormDefinition (connectors.linkedin.forms), a NormalizedLead
(connectors.linkedin.responses), mapping rows and CrmFieldInfo dicts (connectors.crm_connections): no
Django, no I/O, and the same input always gives the same output. Mapping rows may be dicts or model
instances with the same attribute names (a transform that takes an option reads the row's
``transform_option``). What the CRM accepts comes from connectors.crm.schema; ``transform_problems``
tells the editors, before any lead meets a row, what the row's transform cannot do.

The rule it keeps is LGF-109: one bad field never blocks a lead. Every field problem becomes an outcome on
that field and the field is left out of the CRM object; only a missing ``emailAddress``, the CRM's one
required field, is a lead-level error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import phonenumbers

from connectors.crm import schema

FormDefinition = Mapping[str, Any]
NormalizedLead = Mapping[str, Any]
CrmFieldInfo = Mapping[str, Any]

SOURCE_KINDS = ("question", "hidden", "consent", "metadata")



# --- transforms -------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The words a yes/no value may come as, from LinkedIn (consents are booleans, hidden fields and
# answers are text) or typed by a person: the yes/no transforms and the CRM's yes/no fields read
# them alike.
YES_WORDS = frozenset({"1", "true", "yes", "y", "on", "checked"})
NO_WORDS = frozenset({"0", "false", "no", "n", "off", "unchecked", ""})
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _textwise(fn: Callable[[str], str]) -> Callable[[Any], Any]:
    """Lift a text function so it also applies to each chosen option of a multiple choice answer."""

    def apply(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [fn(_render(item)) for item in value]
        return fn(_render(value))

    return apply


def _join(value: Any, separator: str) -> Any:
    if isinstance(value, (list, tuple)):
        return separator.join(_render(item) for item in value)
    return value


def _first_option(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise ValueError(f"expected a yes/no value, got {value!r}")


def _as_datetime(value: Any) -> datetime:
    """Epoch milliseconds, as LinkedIn sends every time; timedelta keeps pre-1970 values portable."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected epoch milliseconds, got {value!r}")
    return _EPOCH + timedelta(milliseconds=int(value))


def _title(text: str) -> str:
    """str.title() would give "Don'T" and "O'Neil's"; capitalise whole words, apostrophes included."""
    return _WORD.sub(lambda m: m[0][:1].upper() + m[0][1:].lower(), text)


def _digits(text: str) -> str:
    """Phone numbers: any script's decimal digits become ASCII; a leading + (international prefix) stays."""
    text = text.strip()
    digits = "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())
    return ("+" if text.startswith("+") else "") + digits


_PHONE_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "its country code is unknown",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "it is not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "it is too short",
    phonenumbers.NumberParseException.TOO_LONG: "it is too long",
}


def _e164(value: Any, region: str | None) -> str:
    """A phone number as E.164 (+14155550123): one spelling whatever the member typed, which the CRM
    and its dialler read alike. A number without + is read as a number of `region`; one that is
    not a valid number there (or anywhere) is a field error, never a guess."""
    text = _render(value).strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if region is None and not text.startswith("+"):
            raise _FieldError(f"{text!r} has no country code (+…) and the mapping gives no default region") from None
        reason = _PHONE_PARSE_ERRORS.get(exc.error_type, "it cannot be read")
        raise _FieldError(f"{text!r} is not a phone number: {reason}") from None
    if not phonenumbers.is_valid_number(number):
        where = f" in {region}" if region and not text.startswith("+") else ""
        raise _FieldError(f"{text!r} is not a valid phone number{where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _date(pattern: str | None = None) -> Callable[[Any, Any], str]:
    """A LinkedIn time (epoch milliseconds) written in `pattern`, UTC; without one, in the row's option."""
    return lambda value, option: _as_datetime(value).strftime(pattern or option)


def _plain(fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """A transform that takes no option."""
    return lambda value, option: fn(value)


CONSTANT = "constant"

# name -> (label, function(value, option)): `option` is the row's transform_option as its
# TRANSFORM_OPTIONS entry reads it (None for a transform that takes none, or an optional one left empty).
TRANSFORMS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "none": ("As is", _plain(lambda value: value)),
    CONSTANT: ("A constant you type (whatever the lead says)", lambda value, option: option),
    "trim": ("Trim spaces", _plain(_textwise(str.strip))),
    "lower": ("lower case", _plain(_textwise(str.lower))),
    "upper": ("UPPER CASE", _plain(_textwise(str.upper))),
    "title": ("Title Case", _plain(_textwise(_title))),
    "join_comma": ("Options joined with commas (A, B)", _plain(lambda value: _join(value, ", "))),
    "join_semicolon": ("Options joined with semicolons (A;B)", _plain(lambda value: _join(value, ";"))),
    "join": ("Options joined with a separator you type", _join),
    "first_option": ("First chosen option only", _plain(_first_option)),
    "yes_no": ("Yes / No", _plain(lambda value: "Yes" if _as_bool(value) else "No")),
    "one_zero": ("1 / 0", _plain(lambda value: "1" if _as_bool(value) else "0")),
    "date_iso": ("ISO 8601 date-time, UTC (2026-01-31T14:05:00Z)", _date("%Y-%m-%dT%H:%M:%SZ")),
    "datetime_crm": ("CRM date-time (Y-m-d H:i:s, UTC)", _date(schema.TIMESTAMP_FORMAT)),
    "date_ymd": ("ISO date, UTC (2026-01-31)", _date("%Y-%m-%d")),
    "date_us": ("US date, UTC (01/31/2026)", _date("%m/%d/%Y")),
    "date_eu": ("European date, UTC (31/01/2026)", _date("%d/%m/%Y")),
    "date_pattern": ("Date-time in a strftime pattern you type, UTC", _date()),
    "phone_e164": ("Phone number, E.164 (+14155550123)", _e164),
    "digits": ("Digits only, keeping a leading + (phone numbers)", _plain(_textwise(_digits))),
}
TRANSFORM_CHOICES = [(name, label) for name, (label, _) in TRANSFORMS.items()]


# --- transform options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformOption:
    """What a transform reads from its row's `transform_option`: what the editor calls it, an
    example, and `read`, which turns the text as typed into what the transform takes or raises
    ValueError with a sentence saying what is wrong. An optional one may be left empty."""

    label: str
    example: str
    read: Callable[[str], Any]
    required: bool = True


def _read_constant(text: str) -> str:
    if not text.strip():
        raise ValueError("a constant of spaces only would send nothing: type the value to send")
    return text


def _read_separator(text: str) -> str:
    return text  # any text, spaces included: only an empty one is refused (as missing)


def _read_region(text: str) -> str:
    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{text.strip()!r} is not a region phone numbers are known for: give a two-letter "
                         f"country code such as US, GB or DE")
    return region


# The directives every platform's strftime knows (C89 and ISO 8601): anything else would be
# printed as typed on one server and refused on another.
_STRFTIME_DIRECTIVES = frozenset("aAwdbBmyYHIpMSfzZjUWcxXGuV%")
_DIRECTIVE = re.compile(r"%(.?)", re.DOTALL)


def _read_pattern(text: str) -> str:
    directives = _DIRECTIVE.findall(text)
    for directive in directives:
        if directive == "":
            raise ValueError(f"the pattern {text!r} ends with a lone %: write %% for a percent sign")
        if directive not in _STRFTIME_DIRECTIVES:
            raise ValueError(f"%{directive} in {text!r} is not a strftime directive: use e.g. %Y (year), "
                             f"%m (month), %d (day), %H:%M (time)")
    if not any(directive != "%" for directive in directives):
        raise ValueError(f"the pattern {text!r} has no directive such as %Y, %m or %d, so every lead would get "
                         f"the same text: use the constant transform for that")
    return text


TRANSFORM_OPTIONS: dict[str, TransformOption] = {
    CONSTANT: TransformOption("the value to send", "Webinar 2026", _read_constant),
    "join": TransformOption("a separator", "“ | ”", _read_separator),
    "phone_e164": TransformOption("a default region for numbers without +", "US", _read_region, required=False),
    "date_pattern": TransformOption("a strftime pattern", "%d.%m.%Y %H:%M", _read_pattern),
}


def _read_option(transform: str, text: str, *, strict: bool) -> Any:
    """The option `transform` takes, read from the row's text; ValueError with a sentence when it
    is missing or malformed. `strict` (the editors) also refuses an option the transform does not
    take; the engine ignores one, since nothing reads it."""
    label = TRANSFORMS[transform][0]
    spec = TRANSFORM_OPTIONS.get(transform)
    if spec is None:
        if strict and text:
            raise ValueError(f"“{label}” takes no option: empty the option ({text!r})")
        return None
    if text == "" or (not spec.required and not text.strip()):
        if spec.required:
            raise ValueError(f"“{label}” needs {spec.label}, e.g. {spec.example}")
        return None
    return spec.read(text)


# --- which CRM fields a transform fits --------------------------------------------------------------------

TEXT_FIELD, NUMBER_FIELD, YES_NO_FIELD = "text", "number", "yes/no"
_ANY_FIELD = frozenset({TEXT_FIELD, NUMBER_FIELD, YES_NO_FIELD})
# What a transform's result can be sent to, by the kind of CRM field (a transform not named fits
# any): joined options, words, dates and +numbers are not numbers, and only Yes/No is a yes/no.
_FITS = {
    "join_comma": {TEXT_FIELD}, "join_semicolon": {TEXT_FIELD}, "join": {TEXT_FIELD},
    "yes_no": {TEXT_FIELD, YES_NO_FIELD},
    "date_iso": {TEXT_FIELD}, "datetime_crm": {TEXT_FIELD}, "date_ymd": {TEXT_FIELD}, "date_us": {TEXT_FIELD},
    "date_eu": {TEXT_FIELD}, "date_pattern": {TEXT_FIELD},
    "phone_e164": {TEXT_FIELD},
    "digits": {TEXT_FIELD, NUMBER_FIELD},
}


def field_kind(crm_field: str, info: CrmFieldInfo | None) -> str:
    """"yes/no", "number" or "text": what a CRM field takes, from its catalogue entry (a standard
    field's from the schema when the catalogue is not loaded)."""
    data_type = _data_type(crm_field, info)
    if data_type in schema.BOOLEAN_TYPES:
        return YES_NO_FIELD
    if data_type in schema.NUMBER_TYPES:
        return NUMBER_FIELD
    return TEXT_FIELD


def transform_problems(row: Any, crm_fields: Mapping[str, CrmFieldInfo] | Iterable[CrmFieldInfo] | None = None
                       ) -> dict[str, str]:
    """Why a mapping row's transform cannot work, found before any lead meets it, as {column:
    sentence}: "transform" for an unknown transform or one whose result the row's CRM field cannot
    take, "transform_option" for an option that is missing, malformed or not taken, or a constant
    the field would refuse. The fit is checked for an enabled, mapped row only. Sentences do not
    name the row (the caller does); empty when the row is fine."""
    catalogue = _catalogue(crm_fields)
    transform = _get(row, "transform") or "none"
    if transform not in TRANSFORMS:
        return {"transform": f"{transform!r} is not a transform LeadSync knows."}
    label = TRANSFORMS[transform][0]
    try:
        option = _read_option(transform, _get(row, "transform_option") or "", strict=True)
    except ValueError as exc:
        return {"transform_option": f"{exc}."}
    crm_field = _get(row, "crm_field") or ""
    if not crm_field or not _get(row, "enabled", True):
        return {}
    info = catalogue.get(crm_field)
    if transform == CONSTANT:
        if crm_field == schema.EMAIL_FIELD:
            return {"transform": f"{crm_field} identifies the lead in the CRM: a constant would make every lead "
                                 f"the same CRM lead."}
        try:
            status, message, _ = _check(crm_field, option, info)
        except _FieldError as exc:
            return {"transform_option": f"the constant cannot be sent: {exc}."}
        if status != "ok":
            return {"transform_option": f"the constant would be {message}: shorten it."}
        return {}
    kind = field_kind(crm_field, info)
    if kind not in _FITS.get(transform, _ANY_FIELD):
        return {"transform": f"“{label}” does not fit {crm_field}, a {kind} field: pick another transform or "
                             f"another CRM field."}
    return {}


# --- sources ----------------------------------------------------------------------------------------------

PREDEFINED_TO_CRM = {
    "FIRST_NAME": "firstName",
    "LAST_NAME": "lastName",
    "EMAIL": "emailAddress",
    "WORK_EMAIL": "emailAddress",  # only on forms without an EMAIL question: see auto_map
    "COMPANY_NAME": "companyName",
    "JOB_TITLE": "title",
    "PHONE_NUMBER": "phoneNumber",
    "WORK_PHONE_NUMBER": "officePhoneNumber",
    "CITY": "city",
    "STATE": "state",
    "COUNTRY": "country",
    "ZIP_CODE": "zipcode",
    "INDUSTRY": "industry",
}

METADATA_SOURCES = {
    "linkedin_lead_id": "LinkedIn lead id",
    "submitted_at": "Submitted at",
    "lead_type": "Lead type",
    "form_id": "Form id",
    "form_name": "Form name",
    "form_version": "Form version",
    "event_urn": "Event URN",
    "campaign_urn": "Campaign URN",
    "associated_entity_urn": "Associated entity URN",
    "test_lead": "Test lead",
    "submitter_urn": "Submitter URN",
    "owner_urn": "Owner URN",
}
_METADATA_TRANSFORMS = {"submitted_at": "datetime_crm", "test_lead": "yes_no"}

_LABEL_MAX = 100


def _norm(text: Any) -> str:
    """Labels match whatever their case, spacing, underscores or punctuation."""
    return "".join(c for c in str(text or "").casefold() if c.isalnum())


def _humanise(predefined: str) -> str:
    return predefined.replace("_", " ").capitalize()


def _field_label(kind: str, item: Mapping[str, Any]) -> str:
    """The label a CRM custom field gets for a source; auto_map matches it too, so creating it closes the loop."""
    if kind == "hidden":
        text = item["name"]
    elif kind == "consent":
        text = item.get("label") or item.get("text") or f"Consent {item['id']}"
    else:
        text = item.get("label") or item.get("text") or item.get("name") or f"Question {item['id']}"
    return " ".join(str(text).split())[:_LABEL_MAX].rstrip()


def form_sources(form: FormDefinition) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    """(kind, key, item) for every question, hidden field and consent of the form, in form order."""
    for question in form.get("questions") or ():
        yield "question", str(question["id"]), question
    for hidden in form.get("hidden_fields") or ():
        yield "hidden", str(hidden["name"]), hidden
    for consent in form.get("consents") or ():
        yield "consent", str(consent["id"]), consent


def _get(row: Any, name: str, default: Any = None) -> Any:
    if type(row) is dict or isinstance(row, Mapping):  # (a dict first: the ABC check is slow)
        return row.get(name, default)
    return getattr(row, name, default)


# --- auto-mapping -----------------------------------------------------------------------------------------


def auto_map(form: FormDefinition, crm_fields: list[CrmFieldInfo]) -> list[dict]:
    """One mapping row per source of the form, in form order, then the metadata keys.

    Predefined questions go to the CRM's standard fields (assumed to exist when the catalogue is empty or
    unknown); everything else goes to a custom field whose label matches, or stays unmapped. No two rows get
    the same CRM field: the first source in form order keeps it. Unmapped rows are still ``enabled`` so that
    an admin who only picks a CRM field is not surprised by a silently skipped column.
    """
    crm_fields = list(crm_fields or ())
    system_names = {f["system_name"] for f in crm_fields}
    custom = [f for f in crm_fields if f.get("is_custom")]
    has_email = any(q.get("predefined_field") == "EMAIL" for q in form.get("questions") or ())
    used: set[str] = set()

    def match_custom(*names: Any) -> CrmFieldInfo | None:
        for name in filter(None, map(_norm, names)):
            for info in custom:
                if info["system_name"] not in used and _norm(info.get("label")) == name:
                    return info
        return None

    rows = []
    for kind, key, item in form_sources(form):
        info = None
        crm_field = ""
        if kind == "question":
            predefined = item.get("predefined_field")
            standard = PREDEFINED_TO_CRM.get(predefined)
            if predefined == "WORK_EMAIL" and has_email:
                standard = None
            if standard and standard not in used and (not system_names or standard in system_names):
                crm_field = standard
            else:
                humanised = _humanise(predefined) if predefined else None
                info = match_custom(item.get("label"), item.get("name"), item.get("text"), humanised,
                                    _field_label(kind, item))
        elif kind == "hidden":
            info = match_custom(item["name"])
        else:
            info = match_custom(item.get("label"), item.get("text"), _field_label(kind, item))
        if info is not None:
            crm_field = info["system_name"]
        if crm_field:
            used.add(crm_field)

        if kind == "consent":
            transform = "one_zero" if _is_boolean(info) else "yes_no"
        elif item.get("type") == "multiple_choice":
            transform = "join_comma"
        else:
            transform = "none"
        rows.append(_row(kind, key, _field_label(kind, item), crm_field, transform))

    for key, label in METADATA_SOURCES.items():
        info = match_custom(label, key)
        crm_field = info["system_name"] if info else ""
        if crm_field:
            used.add(crm_field)
        rows.append(_row("metadata", key, label, crm_field, _METADATA_TRANSFORMS.get(key, "none")))
    return rows


def _row(kind: str, key: str, label: str, crm_field: str, transform: str) -> dict:
    return {
        "source_kind": kind,
        "source_key": key,
        "source_label": label,
        "crm_field": crm_field,
        "transform": transform,
        "enabled": True,
    }


def suggest_custom_fields(form: FormDefinition, mapping_rows: Iterable[Any]) -> list[dict]:
    """createFields objects for the form's unmapped sources (see custom_field_suggestions)."""
    return [definition for _, _, definition in custom_field_suggestions(form, mapping_rows)]


def custom_field_suggestions(form: FormDefinition, mapping_rows: Iterable[Any]) -> list[tuple[str, str, dict]]:
    """(source kind, source key, createFields object) for each of the form's unmapped sources, in form
    order (LGF-104: a place in the CRM for every field).

    Sources missing from ``mapping_rows`` (e.g. added by a new form version) count as unmapped. Labels are
    the ones auto_map matches, so auto-mapping again after the fields exist maps these sources; two sources
    with the same label get a numbered second label rather than one field for both.
    """
    mapped = {
        (_get(row, "source_kind"), str(_get(row, "source_key")))
        for row in mapping_rows
        if _get(row, "crm_field")
    }
    suggestions: list[tuple[str, str, dict]] = []
    labels: set[str] = set()
    for kind, key, item in form_sources(form):
        if (kind, key) in mapped:
            continue
        label = base = _field_label(kind, item)
        n = 1
        while _norm(label) in labels:
            n += 1
            label = f"{base[:_LABEL_MAX - len(str(n)) - 1]} {n}"
        labels.add(_norm(label))

        definition: dict[str, Any] = {"relationship": "lead", "label": label, "isCustom": 1}
        if kind == "consent":
            definition["dataType"] = "bit"
        elif item.get("type") == "multiple_choice":
            # Text, not a picklist: LinkedIn does not say whether a question takes one option or
            # several, and a picklist would refuse "A, B" (the CRM's multi-select format is undocumented).
            definition["dataType"] = "text"
            definition["dataLength"] = 255
        elif kind == "question" and (item.get("max_length") or 0) > 255:
            definition["dataType"] = "textarea"
        else:
            definition["dataType"] = "text"
            definition["dataLength"] = (item.get("max_length") if kind == "question" else None) or 255
        suggestions.append((kind, key, definition))
    return suggestions


# --- applying a mapping to a lead -------------------------------------------------------------------------


# What apply_mapping says of a row, as its outcome's "status": ok, truncated, error, empty, unmapped.
SENT_STATUSES = ("ok", "truncated")       # the field's value reached the CRM object
FIELD_PROBLEMS = ("error", "truncated")   # the field did not reach the CRM as it was answered


# An outcome's message may quote the answer it is about: a 70,000-character answer must not make a
# 70,000-character message on every push.
MAX_MESSAGE_CHARS = 300


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


@dataclass
class MappedLead:
    crm_object: dict[str, str] = field(default_factory=dict)
    outcomes: list[dict] = field(default_factory=list)
    lead_error: str | None = None


class _FieldError(Exception):
    pass


def _metadata(lead: NormalizedLead, key: str, form: FormDefinition | None) -> Any:
    entity = lead.get("associated_entity") or {}
    if key == "linkedin_lead_id":
        return lead.get("id")
    if key == "form_version":
        return lead.get("form_version")
    if key == "form_name":
        return form.get("name") if form is not None else lead.get("form_name")
    if key == "event_urn":
        return entity.get("urn") if entity.get("kind") == "event" else None
    if key == "associated_entity_urn":
        return entity.get("urn")
    if key in METADATA_SOURCES:
        return lead.get(key)
    raise _FieldError(f"unknown metadata key {key!r}")


def _source_value(lead: NormalizedLead, kind: str, key: str, form: FormDefinition | None) -> Any:
    if kind == "question":
        return ((lead.get("answers") or {}).get(key) or {}).get("value")
    if kind == "hidden":
        return (lead.get("hidden_fields") or {}).get(key)
    if kind == "consent":
        return ((lead.get("consents") or {}).get(key) or {}).get("accepted")
    if kind == "metadata":
        return _metadata(lead, key, form)
    raise _FieldError(f"unknown source kind {kind!r}")


def _render(value: Any, *, boolean: tuple[str, str] = ("true", "false")) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return boolean[0] if value else boolean[1]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        try:
            return str(value)
        except ValueError:  # an integer longer than Python writes (sys.get_int_max_str_digits)
            raise TypeError(f"cannot send a number of {value.bit_length()} bits to the CRM") from None
    if isinstance(value, (list, tuple)):
        return ", ".join(_render(item, boolean=boolean) for item in value)
    raise TypeError(f"cannot send a {type(value).__name__} to the CRM")


def _match_option(value: str, options: Iterable[str]) -> str | None:
    """The option exactly, else the one option equal but for case and spacing (sent in the CRM's spelling)."""
    options = list(options)
    if value in options:
        return value
    close = [o for o in options if _norm(o) == _norm(value)]
    return close[0] if len(close) == 1 else None


def _catalogue(crm_fields: Mapping[str, CrmFieldInfo] | Iterable[CrmFieldInfo] | None) -> Mapping[str, CrmFieldInfo]:
    """{system name: CrmFieldInfo}, from a mapping of them, a list of them or nothing."""
    if crm_fields is None:
        return {}
    if isinstance(crm_fields, Mapping):
        return crm_fields
    return {f["system_name"]: f for f in crm_fields}


def _data_type(crm_field: str, info: CrmFieldInfo | None) -> str:
    """The CRM field's type as getFields spells it, lower case; a standard field's from the schema."""
    return str((info or {}).get("data_type") or schema.STANDARD_TYPES.get(crm_field, "")).strip().lower()


def _is_boolean(info: CrmFieldInfo | None) -> bool:
    return info is not None and _data_type(info.get("system_name", ""), info) in schema.BOOLEAN_TYPES


# Numeric and yes/no CRM fields refuse the whole lead (205) when sent text, so a value that does not
# fit is a field error here instead (LGF-109: one bad field never blocks the lead).
def _fit_type(crm_field: str, value: str, kind: str) -> str:
    if kind in schema.BOOLEAN_TYPES:
        word = value.strip().lower()
        if word in YES_WORDS:
            return "1"
        if word in NO_WORDS:
            return "0"
        raise _FieldError(f"{crm_field} is a yes/no field and {value!r} is neither")
    if kind in schema.NUMBER_TYPES:
        text = value.strip() if kind in schema.INTEGER_TYPES else value.strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise _FieldError(f"{crm_field} is a number field and {value!r} is not a number") from None
        if kind in schema.INTEGER_TYPES:
            if not number.is_integer():
                raise _FieldError(f"{crm_field} takes whole numbers and {value!r} is not one")
            return str(int(number))
        return text
    return value


def _check(crm_field: str, value: str, info: CrmFieldInfo | None) -> tuple[str, str, str]:
    """Fit a rendered value to its CRM field: (status, message, value); raises _FieldError when it can't fit."""
    allowed = schema.LEAD_STATUSES if crm_field == schema.LEAD_STATUS_FIELD else (info or {}).get("options")
    limit = (info or {}).get("max_length") or schema.max_length(crm_field)
    return _fit_field(crm_field, value, allowed, _data_type(crm_field, info), limit)


def _fit_field(crm_field: str, value: str, allowed, data_type: str, limit) -> tuple[str, str, str]:
    """_check with the field's options, type and length already read from the catalogue."""
    if allowed:
        matched = _match_option(value, allowed)
        if matched is None:
            shown = ", ".join(list(allowed)[:10]) + (", …" if len(allowed) > 10 else "")
            raise _FieldError(f"{value!r} is not an option of {crm_field} ({shown})")
        value = matched
    value = _fit_type(crm_field, value, data_type)
    if limit and len(value) > int(limit):
        if crm_field == schema.EMAIL_FIELD:
            # A cut-down address is someone else's address, and the CRM dedupes on it.
            raise _FieldError(f"email address is {len(value)} characters, the CRM allows {limit}")
        return "truncated", f"truncated from {len(value)} to {limit} characters", value[: int(limit)]
    return "ok", "", value


def _source_getter(kind: str, key: str, form: FormDefinition | None) -> Callable[[NormalizedLead], Any]:
    """The function reading a row's source value from a lead (`_source_value` with kind and key fixed)."""
    if kind == "question":
        return lambda lead: ((lead.get("answers") or {}).get(key) or {}).get("value")
    if kind == "hidden":
        return lambda lead: (lead.get("hidden_fields") or {}).get(key)
    if kind == "consent":
        return lambda lead: ((lead.get("consents") or {}).get(key) or {}).get("accepted")
    return lambda lead: _source_value(lead, kind, key, form)  # metadata, and an unknown kind's error


class _Row:
    """One mapping row with everything about it that does not depend on the lead worked out once:
    its outcome when that is the same for every lead (disabled, no CRM field, a transform that
    cannot run), else its source reader, transform, and the CRM field's options, type and length."""

    __slots__ = ("kind", "key", "crm_field", "fixed", "source", "transform", "run", "option", "constant",
                 "boolean", "allowed", "data_type", "limit", "late")

    def __init__(self, row: Any, catalogue: Mapping[str, CrmFieldInfo], form: FormDefinition | None):
        self.kind, self.key = _get(row, "source_kind"), str(_get(row, "source_key"))
        self.crm_field = crm_field = _get(row, "crm_field") or ""
        self.fixed = None  # (status, message) when every lead gets it
        self.late = None   # a field error of the CRM field's, raised once a lead's value reaches it
        try:
            self._compile(row, crm_field, catalogue, form)
        except (_FieldError, TypeError) as exc:  # (apply_mapping's row error, as _map_row raised it)
            self.fixed = ("error", str(exc))

    def _compile(self, row, crm_field, catalogue, form):
        if not crm_field or not _get(row, "enabled", True):
            self.fixed = ("unmapped", "mapping disabled" if crm_field else "no CRM field")
            return
        self.transform = transform = _get(row, "transform") or "none"
        if transform not in TRANSFORMS:
            self.fixed = ("error", f"unknown transform {transform!r}")
            return
        try:
            self.option = _read_option(transform, _get(row, "transform_option") or "", strict=False)
        except ValueError as exc:  # stored past the editors' checks (e.g. in the database by hand)
            self.fixed = ("error", f"transform {transform!r}: {exc}")
            return
        self.run = TRANSFORMS[transform][1]
        self.constant = transform == CONSTANT  # sent whatever the lead says, even nothing
        self.source = _source_getter(self.kind, self.key, form)
        self.boolean, self.allowed, self.data_type, self.limit = ("true", "false"), None, "", None
        try:  # what the catalogue says of the CRM field; its errors are the row's for a lead with a value
            info = catalogue.get(crm_field)
            self.boolean = ("1", "0") if _is_boolean(info) else ("true", "false")
            self.allowed = schema.LEAD_STATUSES if crm_field == schema.LEAD_STATUS_FIELD else (info or {}).get("options")
            self.data_type = _data_type(crm_field, info)
            self.limit = (info or {}).get("max_length") or schema.max_length(crm_field)
        except (_FieldError, TypeError) as exc:
            self.late = exc

    def map(self, lead: NormalizedLead) -> tuple[str, str, str | None]:
        """(status, message, value to send or None); raises _FieldError or TypeError for a field error."""
        value = None
        if not self.constant:
            value = self.source(lead)
            if value is None or value == "" or value == []:
                return "empty", "no value", None
        try:
            value = self.run(value, self.option)
        except _FieldError:
            raise
        except Exception as exc:  # an admin-picked transform on member data must not abort the lead
            raise _FieldError(f"transform {self.transform!r} failed: {exc}") from exc
        if self.late is not None:
            raise self.late
        text = "" if value is None else _render(value, boolean=self.boolean)
        if text == "":
            return "empty", f"no value after transform {self.transform!r}", None
        return _fit_field(self.crm_field, text, self.allowed, self.data_type, self.limit)



class CompiledMapping:
    """A mapping ready to apply to many leads: `compile_mapping(...).apply(lead)` is
    `apply_mapping(lead, ...)`, with what the rows and the catalogue say worked out once."""

    def __init__(self, mappings: Iterable[Any], crm_fields=None, *, form: FormDefinition | None = None):
        catalogue = _catalogue(crm_fields)
        self.rows = [_Row(row, catalogue, form) for row in mappings]

    def apply(self, lead: NormalizedLead) -> MappedLead:
        """Build the CRM lead object; every row gets exactly one outcome, in row order (see apply_mapping)."""
        crm_object: dict[str, str] = {}
        set_by: dict[str, str] = {}
        outcomes = []
        for row in self.rows:
            kind, key, crm_field = row.kind, row.key, row.crm_field
            if row.fixed is not None:
                status, message = row.fixed
                outcomes.append({"source_kind": kind, "source_key": key, "crm_field": crm_field,
                                 "status": status, "message": _short(message)})
                continue
            try:
                status, message, text = row.map(lead)
                if text is not None and crm_field in set_by:
                    status, message, text = "error", f"crm field already set by {set_by[crm_field]}", None
            except (_FieldError, TypeError) as exc:
                status, message, text = "error", str(exc), None
            except RecursionError:  # a value nested deeper than Python follows (only from outside a parser)
                status, message, text = "error", "the value is nested too deeply to send to the CRM", None
            if text is not None:
                crm_object[crm_field] = text
                set_by[crm_field] = f"{kind}:{key}"
            outcomes.append({"source_kind": kind, "source_key": key, "crm_field": crm_field,
                             "status": status, "message": _short(message)})
        lead_error = None
        if schema.EMAIL_FIELD not in crm_object:
            lead_error = f"no {schema.EMAIL_FIELD} after mapping: it is the only field the CRM requires"
        return MappedLead(crm_object=crm_object, outcomes=outcomes, lead_error=lead_error)


def compile_mapping(mappings: Iterable[Any], crm_fields=None, *, form: FormDefinition | None = None) -> CompiledMapping:
    """`mappings` (model instances or dicts) with the CRM's field catalogue, ready for many leads."""
    return CompiledMapping(mappings, crm_fields, form=form)


def apply_mapping(
    lead: NormalizedLead,
    mappings: Iterable[Any],
    crm_fields: Mapping[str, CrmFieldInfo] | Iterable[CrmFieldInfo] | None = None,
    *,
    form: FormDefinition | None = None,
) -> MappedLead:
    """Build the CRM lead object; every row gets exactly one outcome, in row order.

    Only fields with a value that fits are sent: no nulls (the CRM rejects them on standard fields), no
    empty strings (they would clear what the CRM already has), nothing the CRM would reject. When two rows
    target the same CRM field the first that has a value wins, so a later row can act as a fallback.
    ``form`` supplies the form name for the ``form_name`` metadata key (else ``lead["form_name"]``).
    Many leads with one mapping: compile_mapping once, then apply it to each.
    """
    return compile_mapping(mappings, crm_fields, form=form).apply(lead)
