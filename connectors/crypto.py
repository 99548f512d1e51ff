"""Encryption of secrets at rest (Fernet, with key rotation through MultiFernet).

Ciphertexts carry a prefix so a stored token is never mistaken for a secret a user typed.
Functions that see a plain secret are marked sensitive_variables(), for error reports.
"""

import base64
import hashlib
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal
from django.views.decorators.debug import sensitive_variables

TOKEN_PREFIX = "lbenc1:"  # noqa: S105 (a marker, not a secret)
logger = logging.getLogger(__name__)
# rotate_secrets sends this too: apps keeping secrets of their own (alerts' webhook secrets)
# re-encrypt them under the newest key and return how many.
rotating = Signal()


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        if not settings.DEBUG:
            raise ImproperlyConfigured("LOADBAY_ENCRYPTION_KEY is not set.")
        logger.warning("LOADBAY_ENCRYPTION_KEY unset: deriving a development key from SECRET_KEY")
        derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        return MultiFernet([Fernet(derived)])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "LOADBAY_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes "
            "(python manage.py generate_encryption_key)."
        ) from exc


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.LOADBAY_ENCRYPTION_KEYS), settings.SECRET_KEY)


def generate_key() -> str:
    return Fernet.generate_key().decode()


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


@sensitive_variables()
def encrypt(plaintext: str) -> str:
    return TOKEN_PREFIX + cipher().encrypt(plaintext.encode()).decode()


@sensitive_variables()
def decrypt(token: str) -> str:
    if not is_token(token):
        raise SecretUnreadable("not an encrypted token")
    try:
        return cipher().decrypt(token[len(TOKEN_PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with the configured LOADBAY_ENCRYPTION_KEY"
        ) from None


@sensitive_variables()
def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key."""
    return TOKEN_PREFIX + cipher().rotate(token[len(TOKEN_PREFIX) :].encode()).decode()
