"""Payloads of the live subscriptions (taskEvents, workerEvents), the missed-messages notice
every subscription may yield, and the event bus's health."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from schema.shared_results import share_results
from schema.types.task_filter import TaskStateEnum  # noqa: F401  (registers TaskState)
from src.bus.base import BusHealth
from src.bus.payloads import TaskChange, WorkerChange
from src.bus.stream import Missed
from src.task_filter import TaskState


@strawberry.enum(description="Why a subscriber missed messages.")
class MissedReason(Enum):
    SLOW_CONSUMER = "SLOW_CONSUMER"
    BUS_INTERRUPTED = "BUS_INTERRUPTED"


@strawberry.type(
    description="Messages this subscription did not receive at this point of the stream: it read "
    "too slowly (count exact) or the server lost its Redis subscription for a while (count null)."
)
class EventsMissed:
    count: int | None
    reason: MissedReason

    @classmethod
    def from_missed(cls, missed: Missed) -> EventsMissed:
        try:
            reason = MissedReason(missed.reason)
        except ValueError:
            reason = MissedReason.BUS_INTERRUPTED
        return cls(count=missed.count, reason=reason)


@strawberry.type(
    description="A task changed state (or, first, a task running when you subscribed)."
)
class TaskEvent:
    kind: str = strawberry.field(
        description="The event, e.g. task-succeeded; task.current for the starting state."
    )
    at: datetime | None = strawberry.field(description="When the event was published.")
    task_id: str
    name: str | None
    state: TaskState | None
    queue: str | None
    worker: str | None
    args: str | None
    kwargs: str | None
    result: str | None
    exception: str | None
    traceback: str | None
    retries: int | None
    received_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    runtime: float | None
    parent_id: str | None
    root_id: str | None

    @classmethod
    def from_change(cls, change: TaskChange) -> TaskEvent:
        f = change.fields
        try:
            state: TaskState | None = TaskState(str(f.get("state")))
        except ValueError:
            state = None
        return cls(
            kind=change.kind,
            at=change.at,
            task_id=str(f["task_id"]),
            name=_str(f.get("name")),
            state=state,
            queue=_str(f.get("queue")),
            worker=_str(f.get("worker")),
            args=_str(f.get("args")),
            kwargs=_str(f.get("kwargs")),
            result=_str(f.get("result")),
            exception=_str(f.get("exception")),
            traceback=_str(f.get("traceback")),
            retries=_int(f.get("retries")),
            received_at=f.get("received_at"),
            started_at=f.get("started_at"),
            finished_at=f.get("finished_at"),
            runtime=_float(f.get("runtime")),
            parent_id=_str(f.get("parent_id")),
            root_id=_str(f.get("root_id")),
        )


@strawberry.type(description="A worker came online, went offline or sent a heartbeat (or, first, "
                 "a worker known when you subscribed).")  # fmt: skip
class WorkerEvent:
    kind: str = strawberry.field(
        description="The event, e.g. worker-online; worker.current for the starting state."
    )
    at: datetime | None
    hostname: str
    online: bool
    active: int | None = strawberry.field(description="Tasks running, when the event says.")
    processed: int | None = strawberry.field(description="Tasks processed, when the event says.")
    load_average: list[float] | None
    details: JSON = strawberry.field(description="Everything the event carried.")

    @classmethod
    def from_change(cls, change: WorkerChange) -> WorkerEvent:
        d = change.data
        load = d.get("loadavg")
        return cls(
            kind=change.kind,
            at=change.at,
            hostname=change.hostname,
            online=change.online,
            active=_int(d.get("active")),
            processed=_int(d.get("processed")),
            load_average=[float(x) for x in load] if isinstance(load, list | tuple) else None,
            details=cast(Any, d),
        )


# Their fields read only the payload: identical subscriptions may share one execution per event.
share_results(TaskEvent, WorkerEvent)

TaskEventMessage = Annotated[
    TaskEvent | EventsMissed,
    strawberry.union("TaskEventMessage", description="A task event, or a missed-messages notice."),
]
WorkerEventMessage = Annotated[
    WorkerEvent | EventsMissed,
    strawberry.union("WorkerEventMessage", description="A worker event, or a missed notice."),
]


@strawberry.type(description="This API process's event bus (Redis pub/sub for subscriptions).")
class EventBusStatus:
    enabled: bool
    connected: bool
    reconnects: int = strawberry.field(description="Redis subscriptions rebuilt since start.")
    dropped: int = strawberry.field(description="Published messages dropped since start.")
    subscribers: int = strawberry.field(description="Live subscriptions served here.")
    missed: int = strawberry.field(description="Messages skipped for slow subscribers.")
    last_error: str | None

    @classmethod
    def from_health(cls, health: BusHealth) -> EventBusStatus:
        return cls(
            enabled=health.enabled,
            connected=health.connected,
            reconnects=health.reconnects,
            dropped=health.dropped,
            subscribers=health.subscribers,
            missed=health.missed,
            last_error=health.last_error,
        )


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


__all__ = [
    "EventBusStatus",
    "EventsMissed",
    "MissedReason",
    "TaskEvent",
    "TaskEventMessage",
    "WorkerEvent",
    "WorkerEventMessage",
]
