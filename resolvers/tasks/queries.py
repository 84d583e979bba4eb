"""Root fields of the task-history domain: read from the database, map to schema types."""

from __future__ import annotations

from datetime import timedelta

from schema.core.context import Info
from schema.core.fields import On, query
from schema.core.inputs import TaskFilterInput, to_task_filter
from schema.tasks.types import Task, TaskConnection, TaskOrder, TaskStats
from src.auth.roles import Role
from src.task_store.stats import task_stats as compute_stats


@query(Role.VIEWER)
async def tasks(
    info: Info,
    filter: TaskFilterInput | None = None,
    first: int | None = 50,
    after: str | None = None,
    order_by: TaskOrder = TaskOrder.SEEN_DESC,
) -> TaskConnection:
    """Recorded tasks matching the filter, a page of at most 200 at a time (newest first)."""
    f = to_task_filter(filter, info.context.task_scope)
    source = info.context.tasks
    page = await source.page(f, order=order_by.to_domain(), first=first, after=after)
    return TaskConnection.from_page(page, source, f)


@query(Role.VIEWER, on=On(tasks="id"))
async def task(info: Info, id: str) -> Task | None:
    """One recorded task by id, with its parent and children; null when unknown."""
    found = await info.context.tasks.get(id)
    return Task.from_record(found) if found else None


@query(Role.VIEWER)
async def task_stats(
    info: Info, filter: TaskFilterInput | None = None, window: int = 3600
) -> TaskStats:
    """Counts, throughput and runtime percentiles of matching tasks seen in the last `window` s."""
    stats = await compute_stats(
        info.context.tasks,
        to_task_filter(filter, info.context.task_scope),
        timedelta(seconds=window),
    )
    return TaskStats.from_domain(stats)


__all__ = ["task", "task_stats", "tasks"]
