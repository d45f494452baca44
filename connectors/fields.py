"""Model fields that never put a secret in the database in clear."""

from django.db import models

from connectors import crypto


class EncryptedTextField(models.TextField):
    """A text field encrypted with Fernet in the database; plain `str` in Python.

    Values are not searchable or comparable in SQL (each encryption is randomised). An empty
    string stays empty so "no refresh token" needs no ciphertext.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value)

    def get_lookup(self, lookup_name):
        # Ciphertexts are randomised: any comparison but IS NULL would silently match nothing.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "connectors.fields.EncryptedTextField", args, kwargs
