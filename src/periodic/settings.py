"""Operator-editable periodic-task knobs in `celery_system_config` (every replica and the leader's
sampler read the same values; changed with `updateSystemConfig`, no restart)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from src.system.config import ConfigStore, declare, declare_number

MAX_GRACE = 7 * 86400.0

GRACE = declare_number(
    "periodic.grace_seconds",
    60.0,
    "Seconds a due periodic run may be outstanding before the entry is MISSED (else LATE).",
    ge=0,
    le=MAX_GRACE,
)
ENTRY_GRACE = declare(
    "periodic.entry_grace_seconds",
    Annotated[dict[str, Annotated[float, Field(ge=0, le=MAX_GRACE)]], Field(max_length=1000)],
    {},
    "Per periodic entry (by name), a grace in seconds that replaces periodic.grace_seconds.",
)


async def graces(config: ConfigStore) -> tuple[float, dict[str, float]]:
    """The global grace and the per-entry ones."""
    default = float(await config.get(GRACE.name))
    by_entry = {str(k): float(v) for k, v in dict(await config.get(ENTRY_GRACE.name)).items()}
    return default, by_entry


__all__ = ["ENTRY_GRACE", "GRACE", "graces"]
