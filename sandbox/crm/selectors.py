"""What reads the sandbox CRM's state, shaped the way the API answers: every value a string, ids included."""

from .models import CrmCall, CrmField
from .services import lead_catalogue

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def _flag(value):
    return "1" if value else "0"


def field_as_api(field: CrmField):
    answer = {
        "id": str(field.pk),
        "relationship": "lead",
        "systemName": field.system_name,
        "label": field.label,
        "source": "custom" if field.is_custom else "system",
        "dataType": field.data_type,
        "dataLength": "" if field.data_length is None else str(field.data_length),
        "isRequired": _flag(field.is_required),
        "isCustom": _flag(field.is_custom),
        "isActive": _flag(field.is_active),
        "isAvailableInForms": _flag(field.is_available_in_forms),
    }
    if field.data_type == CrmField.DataType.PICKLIST:
        answer["options"] = field.options
    return answer


def fields_list(*, account, field_id=None, label=None, system_name=None, is_custom=None, limit=None, offset=0):
    fields = account.fields.order_by("id")
    if field_id is not None:
        fields = fields.filter(pk=field_id)
    if label is not None:
        fields = fields.filter(label=label)
    if system_name is not None:
        fields = fields.filter(system_name=system_name)
    if is_custom is not None:
        fields = fields.filter(is_custom=is_custom)
    fields = fields[offset : offset + limit] if limit is not None else fields[offset:]
    return [field_as_api(f) for f in fields]


def lead_as_api(lead, *, catalogue, only=None):
    """All the account's active fields (or the `only` ones), unset ones as null, in catalogue order."""
    answer = {}
    for name in catalogue:
        if only is not None and name not in only:
            continue
        if name == "id":
            answer[name] = str(lead.lead_id)
        elif name == "active":
            answer[name] = _flag(lead.is_active)
        elif name == "updateTimestamp":
            answer[name] = lead.updated_at.strftime(TIMESTAMP_FORMAT)
        else:
            answer[name] = lead.data.get(name)
    return answer


def leads_list(*, account, ids=None, emails=None, limit=500, offset=0, only=None):
    """getLeads: ordered by id so that limit/offset pages are stable; no total, like the real API."""
    catalogue = lead_catalogue(account=account)
    leads = account.leads.order_by("lead_id")
    if ids is not None:
        leads = leads.filter(lead_id__in=ids)
    if emails is not None:
        leads = leads.filter(email_lower__in=[e.lower() for e in emails])
    return [lead_as_api(lead, catalogue=catalogue, only=only) for lead in leads[offset : offset + limit]]


def leads_in_date_range(*, account, start, end, timestamp, only=None):
    """getLeadsDateRange: both ends inclusive, active leads only."""
    column = "created_at" if timestamp == "create" else "updated_at"
    catalogue = lead_catalogue(account=account)
    leads = account.leads.filter(is_active=True, **{f"{column}__gte": start, f"{column}__lte": end}).order_by(
        column, "lead_id"
    )
    return [lead_as_api(lead, catalogue=catalogue, only=only) for lead in leads]


def calls_since(*, account, since, until):
    """How many calls the account made in [since, until]: the per-second and daily limits count these."""
    return CrmCall.objects.filter(account=account, created_at__gte=since, created_at__lte=until).count()
