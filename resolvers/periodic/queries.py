"""Root fields of the periodic domain: `periodicTasks` and `periodicTask(name)`."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import On, query
from schema.periodic.types import PeriodicTask
from src.access_scope import AccessScope
from src.auth import scoped_views
from src.auth.roles import Role
from src.errors import AppError, ErrorCode
from src.periodic.model import Source
from src.periodic.service import Overview, Periodic


def _answer(
    found: Overview, scope: AccessScope | None = None, periodic: Periodic | None = None
) -> list[PeriodicTask]:
    """The entries, or an error naming every source that could not be read: a listing that
    silently lacks a store's entries would look like entries that vanished."""
    failed = [s for s in found.sources if not s.ok]
    if failed:
        raise AppError(
            "; ".join(f"{s.source.value}: {s.error}" for s in failed)
            + " (list the others with `sources:`; see systemStatus { beat { sources } })",
            code=failed[0].code or ErrorCode.INTERNAL,
        )
    states = found.states
    if scope is not None and periodic is not None:
        states = scoped_views.periodic_entries(scope, states, periodic.queue_of)
    return [PeriodicTask.from_state(s) for s in states]


@query(Role.VIEWER)
async def periodic_tasks(info: Info, sources: list[Source] | None = None) -> list[PeriodicTask]:
    """Every periodic entry, by name: the app's beat_schedule, RedBeat and django-celery-beat (or
    only those in `sources`), with its schedule, last and next run, recent runs and health. A
    scoped caller sees the entries whose task name and queue are in its scope."""
    only = set(sources) if sources is not None else None
    periodic = info.context.periodic
    return _answer(await periodic.overview(only=only), info.context.task_scope, periodic)


@query(Role.VIEWER, on=On(periodic_tasks="name"))
async def periodic_task(info: Info, name: str) -> PeriodicTask | None:
    """One periodic entry by name; null when no source has it (a scoped caller: FORBIDDEN
    unless its task name and queue are in scope)."""
    found = await info.context.periodic.overview()
    return next((t for t in _answer(found) if t.name == name), None)


__all__ = ["periodic_task", "periodic_tasks"]
