"""Secrets at rest: the declared secret fields of configuration values (src/system/secrets.py) are
stored encrypted in `celery_system_config`, each leaf on its own, as `enc:v1:<Fernet token>`.

Keys come from CONFIG_ENCRYPTION_KEYS (Fernet keys, comma-separated): a `MultiFernet`, so the first
key encrypts and every key decrypts; rotating is adding a new key in front, running
`celery-admin config rotate-key` (every stored secret re-encrypted with the first key), then
dropping the old key. Without keys, secrets are stored as given (and a warning says so at start);
a value stored in plain text before keys were set is still read, and encrypted by the next write
or by `rotate-key`.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from src.errors import AppError, ErrorCode
from src.identity_settings import IdentitySettings, split_list
from src.system.secrets import SecretFields, SecretKind

log = logging.getLogger(__name__)

PREFIX = "enc:v1:"


class SecretUnreadable(AppError):
    code = ErrorCode.INTERNAL


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class Encryptor:
    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None
        except ValueError:
            raise ValueError(
                "CONFIG_ENCRYPTION_KEYS: each key must be a Fernet key "
                "(32 url-safe base64 bytes: `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Encryptor:
        keys = settings.config_encryption_keys
        return cls(split_list(keys.get_secret_value() if keys is not None else None))

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def _encrypt_leaf(self, _kind: SecretKind, value: Any) -> Any:
        if self._fernet is None or value in (None, "") or is_encrypted(value):
            return value
        text = value if isinstance(value, str) else repr(value)
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def _decrypt_leaf(self, _kind: SecretKind, value: Any) -> Any:
        if not is_encrypted(value):
            return value
        if self._fernet is None:
            raise SecretUnreadable(
                "a stored secret is encrypted but CONFIG_ENCRYPTION_KEYS is unset"
            )
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret was encrypted with a key not in CONFIG_ENCRYPTION_KEYS"
            ) from None

    def _rotate_leaf(self, _kind: SecretKind, value: Any) -> Any:
        if self._fernet is None or value in (None, ""):
            return value
        if not is_encrypted(value):
            return self._encrypt_leaf(_kind, value)
        return PREFIX + self._fernet.rotate(value[len(PREFIX) :].encode()).decode()

    def seal(self, fields: SecretFields, value: Any) -> Any:
        """`value` as stored: its secret leaves encrypted."""
        return fields.transform(value, self._encrypt_leaf)

    def open(self, fields: SecretFields, value: Any) -> Any:
        """`value` as stored, its secret leaves decrypted."""
        return fields.transform(value, self._decrypt_leaf)

    def rotate(self, fields: SecretFields, value: Any) -> Any:
        """`value` re-encrypted with the first key (plain leaves encrypted)."""
        return fields.transform(value, self._rotate_leaf)


__all__ = ["PREFIX", "Encryptor", "SecretUnreadable", "is_encrypted"]
