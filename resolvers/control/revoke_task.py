"""`revokeTask(id, terminate, signal)`: revoke one task, and kill it if asked."""

from __future__ import annotations

from schema.control.types import ControlPayload
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control.tasks import revoke_task as revoke


@mutation(Role.ADMIN, on=On(tasks="id"))
async def revoke_task(
    info: Info, id: str, terminate: bool = False, signal: str = "SIGTERM"
) -> ControlPayload:
    """Revoke one task; with terminate, kill its process with `signal`. The revoke is recorded
    and re-sent to workers that come online later."""
    result = await revoke(info.context.control, id, terminate=terminate, signal=signal)
    return ControlPayload.of(result)


__all__ = ["revoke_task"]
