"""`revokeTasks(filter | selectionToken)`: bulk revoke, previewed first."""

from __future__ import annotations

from schema.control.types import TaskActionPayload, bulk_request
from schema.core.context import Info
from schema.core.fields import mutation
from schema.core.inputs import TaskFilterInput
from src.auth.roles import Role
from src.control.tasks import revoke_tasks as revoke


@mutation(Role.ADMIN)
async def revoke_tasks(
    info: Info,
    filter: TaskFilterInput | None = None,
    selection_token: str | None = None,
    terminate: bool = False,
    signal: str = "SIGTERM",
    sample_size: int = 10,
) -> TaskActionPayload:
    """Bulk revoke in two steps: with `filter`, a preview (count, sample and a selection token;
    nothing is revoked); with `selectionToken`, revoke exactly the previewed tasks."""
    result = await revoke(
        info.context.control,
        bulk_request(info, filter, selection_token, sample_size),
        terminate=terminate,
        signal=signal,
    )
    return TaskActionPayload.of(result)


__all__ = ["revoke_tasks"]
