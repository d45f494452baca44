"""Encryption at rest for tokens and secrets (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`).

`FIELD_ENCRYPTION_KEY` holds one or more comma-separated Fernet keys: the first encrypts, every
one decrypts (MultiFernet), so keys rotate by prepending a new one and re-saving. Development
without a key derives one from SECRET_KEY so a local database stays readable; production refuses
to start without a key (see settings).
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "fernet:"


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _fernet(raw_keys, secret_key):
    keys = [k.strip() for k in raw_keys.split(",") if k.strip()]
    if not keys:
        keys = [base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()]
    fernets = []
    for index, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEY entry {index} is not a valid Fernet key (32 url-safe base64 bytes). "
                "Generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`."
            ) from None
    return MultiFernet(fernets)


def fernet():
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise DecryptionError("stored value is not encrypted")
    try:
        return fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY (was the key changed?)"
        ) from None


def validate_settings():
    """Raise ImproperlyConfigured early (at startup) for a malformed key."""
    fernet()
