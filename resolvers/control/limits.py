"""`setRateLimit` and `setTimeLimit`: a task's limits on chosen workers."""

from __future__ import annotations

from schema.control.types import ControlPayload, Workers
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control import limits


@mutation(Role.ADMIN, on=On(task_names="task_name", workers="workers"))
async def set_rate_limit(
    info: Info, task_name: str, rate: str, workers: Workers = None
) -> ControlPayload:
    """Set a task's rate limit, e.g. '10/m' ('0' removes it)."""
    result = await limits.set_rate_limit(info.context.control, task_name, rate, workers)
    return ControlPayload.of(result)


@mutation(Role.ADMIN, on=On(task_names="task_name", workers="workers"))
async def set_time_limit(
    info: Info,
    task_name: str,
    soft: float | None = None,
    hard: float | None = None,
    workers: Workers = None,
) -> ControlPayload:
    """Set a task's soft and hard time limits in seconds."""
    result = await limits.set_time_limit(info.context.control, task_name, soft, hard, workers)
    return ControlPayload.of(result)


__all__ = ["set_rate_limit", "set_time_limit"]
