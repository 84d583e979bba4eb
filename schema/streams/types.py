"""Payloads of the live subscriptions (taskEvents, workerEvents), the missed-messages notice
every subscription may yield, and the event bus's health."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from schema.adapters.shared_results import share_results
from schema.core.inputs import TaskStateEnum  # noqa: F401  (registers TaskState)
from schema.core.mapping import build
from schema.core.task_data import task_data_field
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
    args: str | None = task_data_field("Positional arguments (repr).")
    kwargs: str | None = task_data_field("Keyword arguments (repr).")
    result: str | None = task_data_field("The result (repr).")
    exception: str | None = task_data_field("The exception (repr).")
    traceback: str | None = task_data_field("The traceback.")
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
        return build(
            cls,
            f,
            lenient=True,
            kind=change.kind,
            at=change.at,
            task_id=str(f["task_id"]),
            state=state,
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
            active=d.get("active") if _is_int(d.get("active")) else None,
            processed=d.get("processed") if _is_int(d.get("processed")) else None,
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "EventBusStatus",
    "EventsMissed",
    "MissedReason",
    "TaskEvent",
    "TaskEventMessage",
    "WorkerEvent",
    "WorkerEventMessage",
]
