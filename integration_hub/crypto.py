"""Encryption of secrets at rest with ``HUB_ENCRYPTION_KEYS`` (Fernet, newest key first).

The first key encrypts; every key decrypts, so a key rotation is: put the new key first, re-encrypt
(``rotate``), then drop the old key.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The value was encrypted with a key that is no longer configured, or was tampered with."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("HUB_ENCRYPTION_KEYS is empty: secrets cannot be encrypted.")
    try:
        return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "HUB_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes); "
            "generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.HUB_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("cannot decrypt: the key that encrypted this value is not configured") from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "cannot re-encrypt: the key that encrypted this value is not configured"
        ) from exc
