"""`retryTask(id)`: re-send a finished task with its exact original arguments."""

from __future__ import annotations

from schema.control.types import TaskActionPayload
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control.tasks import retry_task as retry


@mutation(Role.ADMIN, on=On(tasks="id"))
async def retry_task(info: Info, id: str) -> TaskActionPayload:
    """Re-send a finished task with its exact original args and kwargs; `taskIds` holds the new
    task's id. Refused when the original arguments are not known exactly."""
    return TaskActionPayload.of(await retry(info.context.control, id))


__all__ = ["retry_task"]
