"""`updateSystemConfig(key, value, expectedVersion)`: change one declared setting."""

from __future__ import annotations

from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.fields import On, mutation
from schema.system.types import SystemConfigPayload
from src.auth.roles import Role
from src.control.result import CommandResult
from src.system.config import mask_request


@mutation(Role.SUPER_ADMIN, on=On(settings="key"), redact=mask_request)
async def update_system_config(
    info: Info, key: str, value: JSON, expected_version: int | None = None
) -> SystemConfigPayload:
    """Change one declared setting: validated for its key, versioned; with expectedVersion,
    refused (CONFLICT) if someone changed it meanwhile. Secret fields are answered masked; one
    sent back in its masked form keeps the stored secret."""
    config = info.context.config
    before = await config.describe(key)
    after = await config.set(
        key, value, actor=info.context.caller().subject, expected_version=expected_version
    )
    return SystemConfigPayload.of(
        CommandResult(
            state_before={"value": before.value, "version": before.version},
            state_after={"value": after.value, "version": after.version},
            data={"entry": after},
        )
    )


__all__ = ["update_system_config"]
