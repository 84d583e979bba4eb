"""Root fields of the live-events domain: taskEvents and workerEvents."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from resolvers.streams import live
from schema.context import Info
from schema.types.events import TaskEvent, TaskEventMessage, WorkerEvent, WorkerEventMessage
from schema.types.task_filter import TaskFilterInput, to_task_filter
from src.bus.base import Channel
from src.bus.current import current_tasks, current_workers
from src.bus.payloads import aware_filter, task_change, worker_change
from src.bus.stream import PerMessage

# Decoded once per message and shared by every subscriber of this process.
_task_changes = PerMessage(task_change)
_task_events = PerMessage(lambda m: TaskEvent.from_change(_task_changes(m)))  # type: ignore[arg-type]
_worker_changes = PerMessage(worker_change)
_worker_events = PerMessage(lambda m: WorkerEvent.from_change(_worker_changes(m)))  # type: ignore[arg-type]


async def task_events(
    info: Info, filter: TaskFilterInput | None = None
) -> AsyncGenerator[TaskEventMessage, None]:
    """Tasks running now that pass the filter, then every task event that passes it (the same
    filter as the `tasks` query, applied on the server)."""
    task_filter = aware_filter(to_task_filter(filter))
    inspector = info.context.services.inspector

    def transform(message: dict[str, Any]) -> TaskEvent | None:
        change = _task_changes(message)
        if change is None or not task_filter.matches(change.fields):
            return None
        return _task_events(message)

    async def initial() -> list[TaskEvent]:
        return [TaskEvent.from_change(c) for c in await current_tasks(inspector, task_filter)]

    async for item in live(info, Channel.TASKS, transform, initial=initial):
        yield item


async def worker_events(
    info: Info, hostname: str | None = None
) -> AsyncGenerator[WorkerEventMessage, None]:
    """The workers known now (online and recently offline), then every worker event; only one
    worker's when `hostname` is given."""
    inspector = info.context.services.inspector

    def transform(message: dict[str, Any]) -> WorkerEvent | None:
        change = _worker_changes(message)
        if change is None or (hostname is not None and change.hostname != hostname):
            return None
        return _worker_events(message)

    async def initial() -> list[WorkerEvent]:
        return [WorkerEvent.from_change(c) for c in await current_workers(inspector, hostname)]

    async for item in live(info, Channel.WORKERS, transform, initial=initial):
        yield item


__all__ = ["task_events", "worker_events"]
