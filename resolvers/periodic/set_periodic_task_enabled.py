"""`setPeriodicTaskEnabled(name, enabled)`: switch an entry on or off where its store keeps it."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import On, mutation
from schema.periodic.types import PeriodicTaskEnabledPayload
from src.auth.roles import Role


@mutation(Role.ADMIN, on=On(periodic_tasks="name"))
async def set_periodic_task_enabled(
    info: Info, name: str, enabled: bool
) -> PeriodicTaskEnabledPayload:
    """Switch an entry on or off in RedBeat or django-celery-beat (a running beat follows within
    a few seconds). An entry of the app's beat_schedule is code: UNSUPPORTED."""
    periodic = info.context.periodic
    return PeriodicTaskEnabledPayload.of(await periodic.set_enabled(name, enabled))


__all__ = ["set_periodic_task_enabled"]
