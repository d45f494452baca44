"""What changes the sandbox CRM's state: accounts, fields, leads, fault switches, the call log.

These functions implement the effects of the JSON-RPC methods as the vendor's API documentation describes
them; `rpc.py` turns params into calls here and results into the envelope. A bulk function never lets
one object stop the others: each object's failure becomes an `ObjectError` entry at that object's index.
"""

import random
import re

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import F

from sandbox import db as sandbox_db
from .models import CrmAccount, CrmCall, CrmFault, CrmField, CrmLead
from .standard_fields import (
    CUSTOM_DATA_TYPES,
    FLAG_TYPES,
    INTEGER_TYPES,
    LEAD_STATUSES,
    STANDARD_FIELDS,
    STANDARD_FIELDS_BY_NAME,
    STRING_TYPES,
)

# What `sandbox_crm_account` adds when no --custom-field is given: fields a LinkedIn lead form typically
# fills that the standard lead has no column for.
DEFAULT_CUSTOM_FIELDS = (
    ("LinkedIn Lead ID", "text"),
    ("Job Function", "text"),
    ("Marketing Consent", "bit"),
)

MSG_INVALID = "Invalid parameters"
MSG_MISSING = "Missing parameters"
MSG_MALFORMED = "Object malformed"
MSG_EXISTS = "Entry already exists"
MSG_NO_ROWS = "no table rows affected"
MSG_NOT_FOUND = "A record with that id does not exist"
MSG_ONLY_CUSTOM = "Only custom fields can be deleted"


class ObjectError(Exception):
    """One object of a bulk call failed; the call itself goes on."""

    def __init__(self, code, message, data=None):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.data = data

    def as_entry(self):
        return {"success": False, "error": {"code": self.code, "message": self.message, "data": self.data}}


def _ok(**extra):
    return {"success": True, "error": None, **extra}


# --- accounts and fields ---------------------------------------------------------------------------------


def account_provision(
    *,
    account_id,
    secret_key,
    name=None,
    custom_fields=(),
    per_second_limit=None,
    daily_limit=None,
):
    """Create the account or bring it up to date; safe to run again with the same arguments.

    Every account ends up with all standard fields and its fault switches; a custom field is added only
    when no custom field with that label exists, so its systemName never changes on a re-run.
    Returns (account, created).
    """
    with sandbox_db.atomic():
        account, created = CrmAccount.objects.select_for_update().get_or_create(
            account_id=account_id, defaults={"secret_key": secret_key, "name": name or ""}
        )
        account.secret_key = secret_key
        if name is not None:
            account.name = name
        if per_second_limit is not None:
            account.per_second_limit = per_second_limit
        if daily_limit is not None:
            account.daily_limit = daily_limit
        account.full_clean()
        account.save()
        account_ensure_standard_fields(account=account)
        for label, data_type in custom_fields:
            if not account.fields.filter(is_custom=True, label=label).exists():
                field_create(account=account, label=label, data_type=data_type)
        CrmFault.objects.get_or_create(account=account)
    return account, created


def account_ensure_standard_fields(*, account):
    """Give the account every standard field it lacks (new accounts, or ones created in the admin)."""
    existing = set(account.fields.filter(is_custom=False).values_list("system_name", flat=True))
    CrmField.objects.bulk_create(
        CrmField(
            account=account,
            system_name=f.system_name,
            label=f.label,
            data_type=f.data_type,
            data_length=f.data_length,
            is_custom=False,
            is_required=f.is_required,
            is_available_in_forms=f.in_forms,
            options=[dict(o) for o in f.options],
        )
        for f in STANDARD_FIELDS
        if f.system_name not in existing
    )


# Where the suffixes come from: unseeded, they differ on every run, as the vendor's do; a test that
# needs the same names every run (the README's screenshots) seeds it with seed_custom_field_names().
_suffixes = random.Random()


def seed_custom_field_names(seed) -> None:
    _suffixes.seed(seed)


def _custom_system_name(*, account, label):
    # The vendor's shape: the label with every non-alphanumeric character replaced by "_", then "_" and
    # 13 hex digits (a PHP uniqid). Generated once: renaming the label later keeps the systemName.
    base = re.sub(r"[^A-Za-z0-9]", "_", label)
    while True:
        system_name = f"{base}_{_suffixes.getrandbits(52):013x}"
        if not account.fields.filter(system_name=system_name).exists():
            return system_name


def _picklist_options(options):
    if options in (None, ""):
        return []
    if not isinstance(options, list):
        raise ObjectError(205, MSG_INVALID, {"field": "options", "reason": "must be a list"})
    normalized = []
    for order, option in enumerate(options):
        if isinstance(option, dict):
            value = option.get("value", option.get("label"))
            label = option.get("label", value)
        else:
            value = label = option
        if value is None or isinstance(value, (dict, list)):
            raise ObjectError(205, MSG_INVALID, {"field": "options", "reason": f"option {order} has no value"})
        normalized.append({"label": str(label), "value": str(value), "displayOrder": str(order)})
    return normalized


def field_create(*, account, label, data_type, data_length=None, options=None):
    """Add one custom lead field. Labels are unique among the account's custom fields (301 otherwise)."""
    if not isinstance(label, str) or not label.strip():
        raise ObjectError(206, MSG_MISSING, {"field": "label", "reason": "a label is required"})
    if len(label) > 255:
        raise ObjectError(205, MSG_INVALID, {"field": "label", "reason": "longer than 255 characters"})
    if data_type not in CUSTOM_DATA_TYPES:
        raise ObjectError(
            205, MSG_INVALID, {"field": "dataType", "reason": f"one of {', '.join(CUSTOM_DATA_TYPES)}"}
        )
    if data_length in (None, ""):
        data_length = 255 if data_type in ("text", "string") else None
    else:
        try:
            data_length = int(data_length)
        except (TypeError, ValueError):
            data_length = 0
        if data_length < 1:
            raise ObjectError(205, MSG_INVALID, {"field": "dataLength", "reason": "a positive integer"})
    if account.fields.filter(is_custom=True, label=label).exists():
        raise ObjectError(301, MSG_EXISTS, {"label": label})
    return CrmField.objects.create(
        account=account,
        system_name=_custom_system_name(account=account, label=label),
        label=label,
        data_type=data_type,
        data_length=data_length,
        is_custom=True,
        options=_picklist_options(options) if data_type == "picklist" else [],
    )


def parse_flag(value):
    return value in (1, True) or str(value).strip().lower() in ("1", "true")


def fields_create(*, account, objects):
    """createFields: lead fields only, custom only; one entry per object, in input order."""
    entries = []
    for obj in objects:
        try:
            if not isinstance(obj, dict):
                raise ObjectError(208, MSG_MALFORMED, {"reason": "each object must be a hash"})
            if "relationship" not in obj:
                raise ObjectError(206, MSG_MISSING, {"field": "relationship"})
            if obj["relationship"] != "lead":
                raise _invalid("relationship", 'the sandbox has "lead" only')
            if "isCustom" in obj and not parse_flag(obj["isCustom"]):
                raise _invalid("isCustom", "only custom fields can be created")
            if "dataType" not in obj:
                raise ObjectError(206, MSG_MISSING, {"field": "dataType"})
            field = field_create(
                account=account,
                label=obj.get("label"),
                data_type=obj["dataType"],
                data_length=obj.get("dataLength"),
                options=obj.get("options"),
            )
            entries.append(_ok(id=field.pk))
        except ObjectError as exc:
            entries.append(exc.as_entry())
    return entries


def fields_delete(*, account, objects):
    """deleteFields: custom fields only (211); their values disappear from every lead."""
    entries = []
    for obj in objects:
        try:
            if not isinstance(obj, dict) or not ({"systemName", "id"} & obj.keys()):
                raise ObjectError(208, MSG_MALFORMED, {"reason": "each object needs a systemName"})
            fields = account.fields.all()
            if "systemName" in obj:
                field = fields.filter(system_name=obj["systemName"]).first()
            else:
                field = fields.filter(pk=parse_int(obj["id"])).first() if parse_int(obj["id"]) else None
            if field is None:
                raise ObjectError(302, MSG_NO_ROWS, {"reason": "no such field"})
            if not field.is_custom:
                raise ObjectError(211, MSG_ONLY_CUSTOM, {"systemName": field.system_name})
            for lead in account.leads.filter(data__has_key=field.system_name):
                del lead.data[field.system_name]
                lead.save(update_fields=["data"])
            field.delete()
            entries.append(_ok())
        except ObjectError as exc:
            entries.append(exc.as_entry())
    return entries


# --- leads -----------------------------------------------------------------------------------------------


def lead_catalogue(*, account):
    """The account's active fields by systemName, standard ones first: what a lead may carry."""
    return {f.system_name: f for f in account.fields.filter(is_active=True).order_by("is_custom", "id")}


def parse_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _invalid(name, reason):
    return ObjectError(205, MSG_INVALID, {"field": name, "reason": reason})


def _clean_value(field, value):
    """The value as the CRM stores it (a string, or None for empty numbers), or a 205."""
    name, data_type = field.system_name, field.data_type
    if value is None:
        if not field.is_custom and data_type in STRING_TYPES:
            raise _invalid(name, 'null is not accepted for a standard field: send "" to clear it')
        return None
    if isinstance(value, (dict, list)):
        raise _invalid(name, "must be a single value")
    if data_type in INTEGER_TYPES:
        if value == "":
            return None
        number = parse_int(value)
        if number is None:
            raise _invalid(name, "must be an integer")
        return str(number)
    if data_type in FLAG_TYPES:
        if value in (True, 1) or str(value).strip().lower() in ("1", "true"):
            return "1"
        if value in (False, 0) or str(value).strip().lower() in ("0", "false", ""):
            return "0"
        raise _invalid(name, "must be 0 or 1")
    if isinstance(value, bool):
        text = "1" if value else "0"
    else:
        text = str(value)
    if field.data_length and len(text) > field.data_length:
        raise _invalid(name, f"longer than {field.data_length} characters")
    if name == "leadStatus" and not field.is_custom and text not in LEAD_STATUSES:
        raise _invalid(name, f"one of {', '.join(LEAD_STATUSES)}")
    return text


def _clean_lead(*, catalogue, obj):
    if not isinstance(obj, dict):
        raise ObjectError(208, MSG_MALFORMED, {"reason": "each object must be a hash keyed by systemName"})
    values = {}
    for name, value in obj.items():
        if name == "id":
            continue
        field = catalogue.get(name)
        if field is None:
            raise _invalid(name, "no such field")
        standard = None if field.is_custom else STANDARD_FIELDS_BY_NAME.get(name)
        if standard and standard.read_only:
            continue
        values[name] = _clean_value(field, value)
    return values


def _reject_if_faulty(*, fault, email):
    if fault and fault.reject_email_pattern and email and re.search(fault.reject_email_pattern, email, re.I):
        raise ObjectError(fault.reject_code, fault.reject_message, {"emailAddress": email})


def _emails_taken(*, account, emails):
    """Of these lower-case emails, the ones an active lead of the account already has (one query)."""
    return set(
        account.leads.filter(is_active=True, email_lower__in=emails).order_by().values_list("email_lower", flat=True)
    )


def _lock(account):
    # One writer per account at a time, so two concurrent createLeads cannot both pass the duplicate check
    # or take the same lead id.
    return CrmAccount.objects.select_for_update().get(pk=account.pk)


def leads_create(*, account, objects, now):
    """createLeads. Each object is checked against the leads stored so far, including the ones this call
    created before it, so two objects with one email give one lead and one 301. A sent `id` is ignored.

    The stored emails are read in one query and the new leads written in one bulk insert; the call runs
    inside the RPC's transaction, under the account's row lock.
    """
    account = _lock(account)
    catalogue = lead_catalogue(account=account)
    fault = CrmFault.objects.filter(account=account).first()
    checked = []
    for obj in objects:
        try:
            values = _clean_lead(catalogue=catalogue, obj=obj)
            email = values.get("emailAddress")
            if not email:
                raise ObjectError(206, MSG_MISSING, {"field": "emailAddress", "reason": "required"})
            _reject_if_faulty(fault=fault, email=email)
            checked.append(values)
        except ObjectError as exc:
            checked.append(exc)
    taken = _emails_taken(
        account=account, emails={v["emailAddress"].lower() for v in checked if not isinstance(v, ObjectError)}
    )
    entries, leads = [], []
    for values in checked:
        if isinstance(values, ObjectError):
            entries.append(values.as_entry())
            continue
        email = values["emailAddress"]
        if email.lower() in taken:
            entries.append(ObjectError(301, MSG_EXISTS, {"emailAddress": email}).as_entry())
            continue
        data = {"leadStatus": "unqualified", "leadScore": "0", "active": "1", "isUnsubscribed": "0"}
        data.update(values)
        lead = CrmLead(
            account=account,
            lead_id=account.next_lead_id,
            email_lower=email.lower(),
            is_active=data["active"] == "1",
            data=data,
            created_at=now,
            updated_at=now,
        )
        if lead.is_active:  # inactive leads are left out of duplicate checks
            taken.add(lead.email_lower)
        leads.append(lead)
        account.next_lead_id += 1
        entries.append(_ok(id=lead.lead_id))
    CrmLead.objects.bulk_create(leads)
    account.save(update_fields=["next_lead_id"])
    return entries


_BIGINT = range(-(2**63), 2**63)


class _LeadsOfCall:
    """The leads an update call can touch, loaded in one query and kept current in memory while the call's
    objects are applied in order, so object k sees what objects before it changed (an email moved, a lead
    made inactive) exactly as if every object had been written before the next was read.

    Loaded: the leads the objects name by id, and every lead holding one of the emails the objects carry
    (as a key or as a new value). A lead that takes such an email during the call was loaded by its id.
    """

    def __init__(self, *, account, lead_ids, emails):
        # One statement, each half on its own index (an OR of the two walks every lead of the account);
        # no ordering: the model's (account, lead_id) would join the account and walk all its leads too.
        leads = account.leads.order_by().filter(lead_id__in=[i for i in lead_ids if i in _BIGINT]).union(
            account.leads.order_by().filter(email_lower__in=emails), all=True
        )
        self.by_id = {}
        self.by_email = {}
        self.changed = {}
        for lead in leads:
            if lead.lead_id in self.by_id:  # named by its id and by its email
                continue
            self.by_id[lead.lead_id] = lead
            self.by_email.setdefault(lead.email_lower, {})[lead.pk] = lead

    def with_id(self, lead_id):
        return self.by_id.get(lead_id)

    def with_email(self, email):
        """The lead an email names: an active one first, then the oldest id."""
        leads = self.by_email.get(email.lower(), {}).values()
        return min(leads, key=lambda lead: (not lead.is_active, lead.lead_id), default=None)

    def email_taken(self, email, *, exclude):
        return any(
            lead.is_active and lead.pk != exclude.pk for lead in self.by_email.get(email.lower(), {}).values()
        )

    def changed_email(self, lead, old_email_lower):
        self.by_email.get(old_email_lower, {}).pop(lead.pk, None)
        self.by_email.setdefault(lead.email_lower, {})[lead.pk] = lead

    def save(self):
        _update_rows(CrmLead, self.changed.values(), ["data", "email_lower", "is_active", "updated_at"])


def _update_rows(model, objs, fields):
    """Write `fields` of each object with one executemany of a plain UPDATE by primary key: what
    bulk_update does with one CASE expression per field, which costs about a millisecond a row to build."""
    objs = list(objs)
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(field.column)} = %s" for field in columns),
        quote(model._meta.pk.column),
    )
    params = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns] + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _lead_to_update(*, leads, obj, values, strict):
    if obj.get("id") not in (None, ""):
        lead_id = parse_int(obj["id"])
        lead = leads.with_id(lead_id) if lead_id is not None else None
        if lead is None and strict:
            raise ObjectError(404, MSG_NOT_FOUND, {"id": obj["id"]})
        return lead
    email = values.get("emailAddress")
    if not email:
        raise ObjectError(206, MSG_MISSING, {"field": "id", "reason": "an id or an emailAddress is required"})
    lead = leads.with_email(email)
    if lead is None and strict:
        raise ObjectError(404, MSG_NOT_FOUND, {"emailAddress": email})
    return lead


def leads_update(*, account, objects, strict, now):
    """updateLeads (strict=False) and updateLeadsV2 (strict=True).

    Matched by `id`, else by `emailAddress`. Like the real API, updateLeads reports success for a lead it
    cannot find and changes nothing; updateLeadsV2 answers 404 instead. Sending values a lead already has
    gives 302, which is why a blind re-push of an unchanged lead shows up as an object error.

    Objects apply in order, each seeing the ones before it; the leads are read in one query and the
    changed ones written in one bulk update at the end.
    """
    account = _lock(account)
    catalogue = lead_catalogue(account=account)
    fault = CrmFault.objects.filter(account=account).first()
    cleaned = []
    for obj in objects:
        try:
            cleaned.append(_clean_lead(catalogue=catalogue, obj=obj))
        except ObjectError as exc:
            cleaned.append(exc)
    named = [(obj, values) for obj, values in zip(objects, cleaned) if not isinstance(values, ObjectError)]
    leads = _LeadsOfCall(
        account=account,
        lead_ids={parse_int(obj["id"]) for obj, _ in named if obj.get("id") not in (None, "")} - {None},
        emails={values["emailAddress"].lower() for _, values in named if values.get("emailAddress")},
    )
    entries = []
    for obj, values in zip(objects, cleaned):
        try:
            if isinstance(values, ObjectError):
                raise values
            lead = _lead_to_update(leads=leads, obj=obj, values=values, strict=strict)
            if lead is None:
                entries.append(_ok())
                continue
            if obj.get("id") in (None, ""):
                values.pop("emailAddress")  # matched on it: the key, not a change (whatever its case)
            new_email = values.get("emailAddress")
            _reject_if_faulty(fault=fault, email=new_email or lead.data.get("emailAddress"))
            if "emailAddress" in values:
                if not new_email:
                    raise _invalid("emailAddress", "a lead must keep an email address")
                if leads.email_taken(new_email, exclude=lead):
                    raise ObjectError(301, MSG_EXISTS, {"emailAddress": new_email})
            changed = {k: v for k, v in values.items() if lead.data.get(k) != v}
            if not changed:
                raise ObjectError(302, MSG_NO_ROWS, None)
            old_email_lower = lead.email_lower
            lead.data.update(changed)
            lead.email_lower = lead.data.get("emailAddress", "").lower()
            lead.is_active = lead.data.get("active", "1") == "1"
            lead.updated_at = now
            leads.changed_email(lead, old_email_lower)
            leads.changed[lead.pk] = lead
            entries.append(_ok())
        except ObjectError as exc:
            entries.append(exc.as_entry())
    leads.save()
    return entries


def leads_delete(*, account, objects):
    """deleteLeads by id (objects [{id}], bare ids accepted); an unknown id gives 302."""
    account = _lock(account)
    entries = []
    for obj in objects:
        try:
            raw = obj.get("id") if isinstance(obj, dict) else obj
            lead_id = parse_int(raw)
            if lead_id is None:
                raise ObjectError(208, MSG_MALFORMED, {"reason": "each object must be {\"id\": <lead id>}"})
            deleted, _ = account.leads.filter(lead_id=lead_id).delete()
            if not deleted:
                raise ObjectError(302, MSG_NO_ROWS, {"id": raw})
            entries.append(_ok())
        except ObjectError as exc:
            entries.append(exc.as_entry())
    return entries


def lead_updates_subscribe(*, account, url):
    """Records the URL only: the vendor's payload format is unverified, so the sandbox posts nothing."""
    account.lead_updates_url = url
    account.save(update_fields=["lead_updates_url"])


# --- fault switches and the call log ---------------------------------------------------------------------

FAULT_SWITCHES = (
    "reject_email_pattern",
    "reject_code",
    "reject_message",
    *CrmFault.COUNTERS,
    "slow_answer_ms",
)


def fault_set(*, account, changes=None, reset=False):
    """Change an account's fault switches (all back to off first when `reset`).

    Raises ValidationError for an unknown switch or a bad value, leaving the switches as they were.
    """
    changes = dict(changes or {})
    unknown = sorted(set(changes) - set(FAULT_SWITCHES))
    if unknown:
        raise ValidationError(f"Unknown fault switch(es): {', '.join(unknown)}. Known: {', '.join(FAULT_SWITCHES)}.")
    with sandbox_db.atomic():
        fault, _ = CrmFault.objects.select_for_update().get_or_create(account=account)
        if reset:
            defaults = CrmFault(account=account)
            for name in FAULT_SWITCHES:
                setattr(fault, name, getattr(defaults, name))
        for name, value in changes.items():
            if name == "reject_email_pattern" and value is None:
                value = ""
            setattr(fault, name, value)
        fault.full_clean()
        fault.save()
    return fault


def fault_consume(*, account, switch):
    """Take one call off a countdown switch; True when this call is the one the fault hits.

    A single conditional UPDATE, so concurrent calls never spend one count twice.
    """
    return bool(
        CrmFault.objects.filter(account=account, **{f"{switch}__gt": 0}).update(**{switch: F(switch) - 1})
    )


def fault_countdown(*, account, switch):
    """Count a "call N" switch down by one; True for the call that brings it to zero.

    Conditional UPDATEs, so of concurrent calls exactly one is the Nth.
    """
    faults = CrmFault.objects.filter(account=account)
    if faults.filter(**{f"{switch}__gt": 1}).update(**{switch: F(switch) - 1}):
        return False
    return bool(faults.filter(**{switch: 1}).update(**{switch: 0}))


def fault_for(*, account):
    fault, _ = CrmFault.objects.get_or_create(account=account)
    return fault


def fault_as_dict(fault):
    return {name: getattr(fault, name) for name in FAULT_SWITCHES}


def call_record(**values):
    """Log one call. Callers pass what they know; the secret key is never among it."""
    return CrmCall.objects.create(**values)
