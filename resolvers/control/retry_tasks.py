"""`retryTasks(filter | selectionToken)`: bulk retry, previewed first."""

from __future__ import annotations

from schema.control.types import TaskActionPayload, bulk_request
from schema.core.context import Info
from schema.core.fields import mutation
from schema.core.inputs import TaskFilterInput
from src.auth.roles import Role
from src.control.tasks import retry_tasks as retry


@mutation(Role.ADMIN)
async def retry_tasks(
    info: Info,
    filter: TaskFilterInput | None = None,
    selection_token: str | None = None,
    sample_size: int = 10,
) -> TaskActionPayload:
    """Bulk retry in two steps, like revokeTasks; `taskIds` holds the new ids."""
    result = await retry(
        info.context.control,
        bulk_request(info, filter, selection_token, sample_size),
    )
    return TaskActionPayload.of(result)


__all__ = ["retry_tasks"]
