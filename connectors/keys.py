"""Key rotation for the secrets at rest: every stored token and CRM secret re-encrypted under the
first key of FIELD_ENCRYPTION_KEY, so an old key can then be removed from the list."""

from django.db import transaction

from connectors.crypto import DecryptionError
from connectors.exceptions import ConfigurationError
from connectors.fields import EncryptedTextField
from connectors.models import CrmConnection, LinkedInConnection

ENCRYPTED_MODELS = (LinkedInConnection, CrmConnection)


def secrets_reencrypt() -> dict:
    """Re-encrypt every encrypted column of every connection under the first key (each model in one
    transaction, rows locked). Returns {model name: rows re-encrypted}. ConfigurationError, with
    nothing of that model changed, when a stored secret cannot be decrypted with any key given."""
    counts = {}
    for model in ENCRYPTED_MODELS:
        fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        done = 0
        try:
            with transaction.atomic():
                for row in model.objects.select_for_update().only("pk", *fields):
                    model.objects.filter(pk=row.pk).update(**{name: getattr(row, name) for name in fields})
                    done += 1
        except DecryptionError as exc:
            raise ConfigurationError(f"{model._meta.verbose_name_plural}: {exc}. Nothing of them was re-encrypted: "
                                     "keep every old key in FIELD_ENCRYPTION_KEY until rotation succeeds.") from None
        counts[str(model._meta.verbose_name_plural)] = done
    return counts
