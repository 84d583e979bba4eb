"""`runPeriodicTaskNow(name)`: send an entry's task now, as beat would."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import On, mutation
from schema.periodic.types import RunPeriodicTaskPayload
from src.auth.roles import Role


@mutation(Role.ADMIN, on=On(periodic_tasks="name"))
async def run_periodic_task_now(info: Info, name: str) -> RunPeriodicTaskPayload:
    """Send the entry's task now with its exact args, kwargs, queue and options; the task shows up
    in the task history like any other (and counts as a run of the entry)."""
    return RunPeriodicTaskPayload.of(await info.context.periodic.run_now(name))


__all__ = ["run_periodic_task_now"]
