"""Root fields of the task-history domain: read from the database, map to schema types."""

from __future__ import annotations

from datetime import timedelta

from schema.context import Info
from schema.types.task_filter import TaskFilterInput, to_task_filter
from schema.types.tasks import Task, TaskConnection, TaskOrder, TaskStats, store
from src.task_store.query import check_page_size
from src.task_store.stats import task_stats as compute_stats


async def tasks(
    info: Info,
    filter: TaskFilterInput | None = None,
    first: int | None = 50,
    after: str | None = None,
    order_by: TaskOrder = TaskOrder.SEEN_DESC,
) -> TaskConnection:
    """Recorded tasks matching the filter, a page of at most 200 at a time (newest first)."""
    f = to_task_filter(filter)
    check_page_size(first)
    source = store(info)
    page = await source.page(f, order=order_by.to_domain(), first=first, after=after)
    return TaskConnection.from_page(page, source, f)


async def task(info: Info, id: str) -> Task | None:
    """One recorded task by id, with its parent and children; null when unknown."""
    found = await store(info).get(id)
    return Task.from_record(found) if found else None


async def task_stats(
    info: Info, filter: TaskFilterInput | None = None, window: int = 3600
) -> TaskStats:
    """Counts, throughput and runtime percentiles of matching tasks seen in the last `window` s."""
    stats = await compute_stats(store(info), to_task_filter(filter), timedelta(seconds=window))
    return TaskStats.from_domain(stats)


__all__ = ["task", "task_stats", "tasks"]
