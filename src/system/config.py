"""Operator-editable settings in `celery_system_config`: declared keys, validated, versioned.

Modules declare their keys with `declare()` (type, default, description, and the secret fields
inside the value, see src/system/secrets.py); `ConfigStore` reads them with a short cache (so every
replica sees a change within `CACHE_SECONDS`) and writes them with a version bump. Unknown keys and
invalid values are BAD_INPUT; nothing is written then.

Secrets: `get()` is the service's own read and returns the stored value; everything that leaves
the process (`describe()`, `all()`, `set()`'s answer, and the audit record of a change through
`mask_request()`) carries the masked value. A change may send a secret back in its masked form to
keep the stored one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy import select

from src.db.models import SystemConfigEntry
from src.db.models.base import utcnow
from src.db.session import Database
from src.errors import AppError, BadInput, ConflictError
from src.system.encryption import Encryptor
from src.system.secrets import MaskedSecretError, SecretFields, SecretKind

CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ConfigKey:
    name: str
    adapter: TypeAdapter[Any]
    default: Any
    description: str
    secrets: SecretFields | None = None

    def mask(self, value: Any) -> Any:
        """The value as the API, the audit trail and the logs may show it."""
        return self.secrets.mask(value) if self.secrets is not None else value

    def validate(self, value: Any) -> Any:
        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BadInput(
                f"invalid value for {self.name}{' at ' + where if where else ''}: {first['msg']}",
                field="value",
            ) from None


_KEYS: dict[str, ConfigKey] = {}


def declare(
    name: str,
    type_: Any,
    default: Any,
    description: str,
    *,
    secrets: dict[str, SecretKind] | None = None,
) -> ConfigKey:
    """Declare a key (at import time of the module that uses it); `secrets` names the secret
    fields inside its value (paths like `"*.url"`, see src/system/secrets.py)."""
    fields = SecretFields.of(secrets) if secrets else None
    key = ConfigKey(name, TypeAdapter(type_), default, description, fields)
    key.validate(default)
    _KEYS[name] = key
    return key


def declare_number(
    name: str,
    default: float,
    description: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> ConfigKey:
    """Declare a number key: its type is the default's (int or float), within the bounds given."""
    return declare(name, Annotated[type(default), Field(ge=ge, gt=gt, le=le)], default, description)


def declared_keys() -> dict[str, ConfigKey]:
    return dict(_KEYS)


@dataclass(frozen=True, slots=True)
class ConfigValue:
    key: str
    value: Any
    version: int  # 0: the default, never written
    updated_by: str | None
    updated_at: datetime | None
    description: str


class ConfigStore:
    def __init__(self, db: Database, encryptor: Encryptor | None = None) -> None:
        self._db = db
        self._cache: tuple[float, dict[str, SystemConfigEntry]] | None = None
        # Secret fields are stored encrypted (src/system/encryption.py); without keys, as given.
        self._crypt = encryptor or Encryptor([])

    def _open(self, key: ConfigKey, stored: Any) -> Any:
        return self._crypt.open(key.secrets, stored) if key.secrets is not None else stored

    async def _rows(self) -> dict[str, SystemConfigEntry]:
        now = time.monotonic()
        if self._cache is not None and now - self._cache[0] < CACHE_SECONDS:
            return self._cache[1]
        try:
            async with self._db.session("configuration") as session:
                rows = (await session.scalars(select(SystemConfigEntry))).all()
        except AppError:
            if self._cache is not None:  # serve the last known values while the DB is away
                return self._cache[1]
            raise
        by_key = {row.key: row for row in rows}
        self._cache = (now, by_key)
        return by_key

    async def get(self, name: str) -> Any:
        """The current value, or the declared default when unset (or the DB never answered)."""
        key = _known(name)
        try:
            row = (await self._rows()).get(name)
        except AppError:  # the database away (or slow): the declared default
            return key.default
        return key.default if row is None else self._open(key, row.value)

    async def describe(self, name: str) -> ConfigValue:
        key = _known(name)
        row = (await self._rows()).get(name)
        if row is None:
            return ConfigValue(name, key.mask(key.default), 0, None, None, key.description)
        return ConfigValue(
            name,
            key.mask(self._open(key, row.value)),
            row.version,
            row.updated_by,
            row.updated_at,
            key.description,
        )

    async def all(self) -> list[ConfigValue]:
        return [await self.describe(name) for name in sorted(_KEYS)]

    async def set(
        self, name: str, value: Any, *, actor: str | None, expected_version: int | None = None
    ) -> ConfigValue:
        """Validate and store; with expected_version, refuse (CONFLICT) if someone changed it.
        Returns the stored entry with its secrets masked."""
        key = _known(name)
        if key.secrets is None:
            clean = key.validate(value)
        async with self._db.session("configuration not saved") as session:
            row = await session.get(SystemConfigEntry, name, with_for_update=True)
            current = row.version if row is not None else 0
            if expected_version is not None and expected_version != current:
                raise ConflictError(
                    f"{name} is at version {current}, not {expected_version}",
                    field="expectedVersion",
                )
            if key.secrets is not None:
                stored = self._open(key, row.value) if row is not None else key.default
                try:
                    value = key.secrets.restore(value, stored, name=name)
                except MaskedSecretError as exc:
                    raise BadInput(str(exc), field="value") from None
                clean = key.validate(value)
            sealed = self._crypt.seal(key.secrets, clean) if key.secrets is not None else clean
            if row is None:
                row = SystemConfigEntry(key=name, value=sealed, version=1)
                session.add(row)
            else:
                row.value = sealed
                row.version = current + 1
            row.updated_by = actor
            row.updated_at = utcnow()
        self._cache = None
        return ConfigValue(
            name, key.mask(clean), row.version, actor, row.updated_at, key.description
        )

    async def rotate_secrets(self) -> list[str]:
        """Re-encrypt every stored secret with the first key (plain ones encrypted); the keys
        rewritten. The version is kept: the value did not change, only how it is stored."""
        rewritten = []
        async with self._db.session("configuration not saved") as session:
            rows = (await session.scalars(select(SystemConfigEntry).with_for_update())).all()
            for row in rows:
                key = _KEYS.get(row.key)
                if key is None or key.secrets is None:
                    continue
                rotated = self._crypt.rotate(key.secrets, row.value)
                if rotated != row.value:
                    row.value = rotated
                    rewritten.append(row.key)
        self._cache = None
        return rewritten


def mask_request(request: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a configuration change as the audit record keeps them: the value's
    declared secrets masked (an unknown key's value is kept: the change is refused anyway)."""
    key = _KEYS.get(str(request.get("key")))
    if key is None or key.secrets is None or "value" not in request:
        return request
    return {**request, "value": key.mask(request["value"])}


def _known(name: str) -> ConfigKey:
    key = _KEYS.get(name)
    if key is None:
        raise BadInput(
            f"unknown configuration key {name!r}; known: {', '.join(sorted(_KEYS))}", field="key"
        )
    return key


__all__ = [
    "ConfigKey",
    "ConfigStore",
    "ConfigValue",
    "declare",
    "declare_number",
    "declared_keys",
    "mask_request",
]
