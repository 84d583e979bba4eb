"""Root fields of the live-events domain: taskEvents and workerEvents."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from resolvers.core.live import live
from schema.core.context import Info
from schema.core.fields import On, subscription
from schema.core.inputs import TaskFilterInput, to_task_filter
from schema.streams.types import (
    EventsMissed,
    TaskEvent,
    TaskEventMessage,
    WorkerEvent,
    WorkerEventMessage,
)
from src.auth.roles import Role
from src.auth.scoped_events import ScopedEvents
from src.bus.base import Channel
from src.bus.current import current_tasks, current_workers
from src.bus.payloads import aware_filter, task_change, worker_change
from src.bus.stream import PerMessage
from src.task_filter import TaskFilter

# Decoded once per message and shared by every subscriber of this process.
_task_changes = PerMessage(task_change)
_task_events = PerMessage(lambda m: TaskEvent.from_change(_task_changes(m)))  # type: ignore[arg-type]
_worker_changes = PerMessage(worker_change)
_worker_events = PerMessage(lambda m: WorkerEvent.from_change(_worker_changes(m)))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Undecided:
    """An event of a scoped subscriber that names neither queue nor name: looked up first."""

    task_id: str
    message: dict[str, Any]


@subscription(Role.VIEWER)
async def task_events(
    info: Info, filter: TaskFilterInput | None = None
) -> AsyncGenerator[TaskEventMessage, None]:
    """Tasks running now that pass the filter, then every task event that passes it (the same
    filter as the `tasks` query, applied on the server). A scoped caller gets the events of its
    tasks, those that do not name their task's queue or name included (decided from the task
    history)."""
    scope = info.context.task_scope
    task_filter = aware_filter(to_task_filter(filter, scope))
    inspector = info.context.workers.inspector
    # The scope is decided apart from the rest of the filter, so an event that cannot be
    # decided from its own fields is looked up instead of dropped (src/auth/scoped_events.py).
    unscoped = dataclasses.replace(task_filter, scope=None)
    scoped = ScopedEvents(scope, info.context.tasks) if scope is not None else None

    # Plain fields first, on the raw message (no timestamps parsed for what fails them).
    quick = TaskFilter(
        ids=task_filter.ids,
        states=task_filter.states,
        names=task_filter.names,
        queues=task_filter.queues,
        workers=task_filter.workers,
    )

    def accept(message: dict[str, Any]) -> bool:
        data = message.get("data")
        if isinstance(data, dict) and "task_id" in data and not quick.matches(data):
            return False
        change = _task_changes(message)
        if change is None or not unscoped.matches(change.fields):
            return False
        return (
            scope is None
            or scope.allows_task(change.fields)
            or not (
                change.fields.get("queue") is not None and change.fields.get("name") is not None
            )
        )

    def transform(message: dict[str, Any]) -> TaskEvent | _Undecided | None:
        if not accept(message):
            return None
        if scoped is not None:
            change = _task_changes(message)
            assert change is not None  # accepted
            verdict = scoped.verdict(change.fields)
            if verdict is None:
                return _Undecided(str(change.fields["task_id"]), message)
            if not verdict:
                return None
        return _task_events(message)

    async def initial() -> list[TaskEvent]:
        return [TaskEvent.from_change(c) for c in await current_tasks(inspector, task_filter)]

    # Subscribers with the same filter share one check per message, before it is queued.
    key = ("taskEvents", repr(task_filter))
    items: AsyncGenerator[TaskEvent | _Undecided | EventsMissed, None] = live(
        info, Channel.TASKS, transform, initial=initial, accept=accept, key=key
    )
    async for item in items:
        if isinstance(item, _Undecided):
            assert scoped is not None
            if not await scoped.lookup(item.task_id):
                continue
            event = _task_events(item.message)
            if event is None:
                continue
            yield event
        else:
            yield item


@subscription(Role.VIEWER, on=On(workers="hostname"))
async def worker_events(
    info: Info, hostname: str | None = None
) -> AsyncGenerator[WorkerEventMessage, None]:
    """The workers known now (online and recently offline), then every worker event; only one
    worker's when `hostname` is given."""
    inspector = info.context.workers.inspector

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
