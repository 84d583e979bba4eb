"""Operator-editable settings in `celery_system_config`: declared keys, validated, versioned.

Modules declare their keys with `declare()` (type, default, description); `ConfigStore` reads them
with a short cache (so every replica sees a change within `CACHE_SECONDS`) and writes them with a
version bump. Unknown keys and invalid values are BAD_INPUT; nothing is written then.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.db.models import SystemConfigEntry
from src.db.models.base import utcnow
from src.errors import BadInput, ConflictError, DatabaseUnavailable

CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ConfigKey:
    name: str
    adapter: TypeAdapter[Any]
    default: Any
    description: str

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


def declare(name: str, type_: Any, default: Any, description: str) -> ConfigKey:
    """Declare a key (at import time of the module that uses it)."""
    key = ConfigKey(name, TypeAdapter(type_), default, description)
    key.validate(default)
    _KEYS[name] = key
    return key


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
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: tuple[float, dict[str, SystemConfigEntry]] | None = None

    async def _rows(self) -> dict[str, SystemConfigEntry]:
        now = time.monotonic()
        if self._cache is not None and now - self._cache[0] < CACHE_SECONDS:
            return self._cache[1]
        try:
            async with self._sessions() as session:
                rows = (await session.scalars(select(SystemConfigEntry))).all()
        except (SQLAlchemyError, OSError) as exc:
            if self._cache is not None:  # serve the last known values while the DB is away
                return self._cache[1]
            raise DatabaseUnavailable(f"configuration unavailable: {exc}") from exc
        by_key = {row.key: row for row in rows}
        self._cache = (now, by_key)
        return by_key

    async def get(self, name: str) -> Any:
        """The current value, or the declared default when unset (or the DB never answered)."""
        key = _known(name)
        try:
            row = (await self._rows()).get(name)
        except DatabaseUnavailable:
            return key.default
        return key.default if row is None else row.value

    async def describe(self, name: str) -> ConfigValue:
        key = _known(name)
        row = (await self._rows()).get(name)
        if row is None:
            return ConfigValue(name, key.default, 0, None, None, key.description)
        return ConfigValue(
            name, row.value, row.version, row.updated_by, row.updated_at, key.description
        )

    async def all(self) -> list[ConfigValue]:
        return [await self.describe(name) for name in sorted(_KEYS)]

    async def set(
        self, name: str, value: Any, *, actor: str | None, expected_version: int | None = None
    ) -> ConfigValue:
        """Validate and store; with expected_version, refuse (CONFLICT) if someone changed it."""
        key = _known(name)
        clean = key.validate(value)
        try:
            async with self._sessions() as session, session.begin():
                row = await session.get(SystemConfigEntry, name, with_for_update=True)
                current = row.version if row is not None else 0
                if expected_version is not None and expected_version != current:
                    raise ConflictError(
                        f"{name} is at version {current}, not {expected_version}",
                        field="expectedVersion",
                    )
                if row is None:
                    row = SystemConfigEntry(key=name, value=clean, version=1)
                    session.add(row)
                else:
                    row.value = clean
                    row.version = current + 1
                row.updated_by = actor
                row.updated_at = utcnow()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(f"configuration not saved: {exc}") from exc
        self._cache = None
        return ConfigValue(name, clean, row.version, actor, row.updated_at, key.description)


def _known(name: str) -> ConfigKey:
    key = _KEYS.get(name)
    if key is None:
        raise BadInput(
            f"unknown configuration key {name!r}; known: {', '.join(sorted(_KEYS))}", field="key"
        )
    return key


__all__ = ["ConfigKey", "ConfigStore", "ConfigValue", "declare", "declared_keys"]
