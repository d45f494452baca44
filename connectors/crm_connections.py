"""CRM connections: saving checked credentials and loading the CRM's field catalogue (what the
mapping editor offers and the mapping engine checks values against)."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.clients import crm_client, crm_client_for
from connectors.crm.client import to_int
from connectors.models import CrmConnection, CrmField


def crm_connection_save(*, name, account_id, secret_key, api_url=None) -> CrmConnection:
    """Create or update the CRM connection NAME after a real call proved the credentials work.
    Wrong credentials or an unreachable CRM raise (an ApiError) and change nothing. Then the
    field catalogue is loaded."""
    api_url = api_url or settings.LEADGEN_CRM_API_URL
    client = crm_client_for(api_url, account_id=account_id, secret_key=secret_key)
    client.check()
    connection, _ = CrmConnection.objects.update_or_create(
        name=name,
        defaults=dict(
            api_url=api_url, account_id=account_id, secret_key=secret_key,
            status=CrmConnection.Status.ACTIVE, last_checked_at=timezone.now(), last_error="",
        ),
    )
    crm_fields_load(connection=connection, client=client)
    return connection


def _truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes")


def crm_fields_load(*, connection: CrmConnection, client=None) -> int:
    """Replace the stored field catalogue with the CRM's (getFields). Returns the field count."""
    client = client or crm_client(connection)
    fields = client.get_fields()
    rows = []
    for field in fields:
        system_name = field.get("systemName")
        if not system_name:
            continue
        if str(field.get("isActive", "1")).strip() in ("0", "false", "False"):
            continue
        options = field.get("options")
        if isinstance(options, list):
            options = [o.get("value", o.get("label")) if isinstance(o, dict) else o for o in options]
        else:
            options = None
        rows.append(CrmField(
            connection=connection, system_name=system_name, label=field.get("label") or system_name,
            data_type=str(field.get("dataType") or ""), max_length=to_int(field.get("dataLength")) or None,
            is_custom=_truthy(field.get("isCustom")), is_required=_truthy(field.get("isRequired")),
            options=options, crm_id=str(field.get("id") or ""),
        ))
    with transaction.atomic():
        connection.fields.all().delete()
        CrmField.objects.bulk_create(rows)
        connection.fields_loaded_at = timezone.now()
        connection.save(update_fields=["fields_loaded_at", "updated_at"])
    return len(rows)


def crm_field_catalogue(connection: CrmConnection) -> list[dict]:
    """The catalogue as the mapping engine wants it (CrmFieldInfo dicts)."""
    return [
        {"system_name": f.system_name, "label": f.label, "data_type": f.data_type, "max_length": f.max_length,
         "is_custom": f.is_custom, "is_required": f.is_required, "options": f.options}
        for f in connection.fields.all()
    ]
