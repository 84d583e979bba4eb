"""What the task and worker channels carry, read tolerantly into plain dicts and dataclasses.

The collector publishes on Channel.TASKS an envelope whose `data` is the task's fields keyed like
TaskRecord's columns, timestamps as ISO strings or epoch seconds; on Channel.WORKERS the worker's
hostname and what its event said. Timestamps are normalised here to aware UTC datetimes so that
`TaskFilter.matches` compares like with like (a filter's naive bounds are taken as UTC).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from src.task_filter import TaskFilter, TimeRange

# TaskRecord's timestamp columns.
TASK_TIME_FIELDS = (
    "eta", "expires", "sent_at", "received_at", "started_at", "succeeded_at", "failed_at",
    "retried_at", "revoked_at", "finished_at", "last_event_at", "seen_at",
)  # fmt: skip


def to_datetime(value: Any) -> datetime | None:
    """An ISO string, epoch seconds or a datetime, as an aware UTC datetime (None if unreadable)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except (OverflowError, OSError, ValueError):
                return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def task_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A task message's fields with timestamps as aware datetimes (a new dict)."""
    fields = dict(data)
    if "task_id" not in fields and "id" in fields:
        fields["task_id"] = fields["id"]
    for key in TASK_TIME_FIELDS:
        if key in fields:
            fields[key] = to_datetime(fields[key])
    return fields


def _aware_range(value: TimeRange) -> TimeRange:
    return TimeRange(after=to_datetime(value.after), before=to_datetime(value.before))


def aware_filter(task_filter: TaskFilter) -> TaskFilter:
    """The same filter with naive time bounds taken as UTC, comparable with `task_fields`."""
    return dataclasses.replace(
        task_filter,
        received=_aware_range(task_filter.received),
        started=_aware_range(task_filter.started),
        finished=_aware_range(task_filter.finished),
    )


@dataclass(frozen=True, slots=True)
class TaskChange:
    kind: str  # the envelope's type, e.g. "task-succeeded", or "task.current" for current state
    at: datetime | None  # when it was published
    fields: dict[str, Any]  # TaskRecord's keys, timestamps as aware datetimes


def task_change(message: Mapping[str, Any]) -> TaskChange | None:
    """The change a task envelope describes (None if it is not one)."""
    data = message.get("data")
    if not isinstance(data, Mapping):
        return None
    fields = task_fields(data)
    if not fields.get("task_id"):
        return None
    return TaskChange(str(message.get("type") or "task"), to_datetime(message.get("at")), fields)


@dataclass(frozen=True, slots=True)
class WorkerChange:
    kind: str  # the envelope's type, e.g. "worker-online", or "worker.current"
    at: datetime | None
    hostname: str
    online: bool
    data: dict[str, Any]  # everything the event said (active, processed, loadavg, sw_ver, ...)


def worker_change(message: Mapping[str, Any]) -> WorkerChange | None:
    """The change a worker envelope describes (None if it is not one)."""
    data = message.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("hostname"), str):
        return None
    kind = str(message.get("type") or "worker")
    online = data.get("online")
    if not isinstance(online, bool):
        online = not kind.endswith("offline")
    return WorkerChange(kind, to_datetime(message.get("at")), data["hostname"], online, dict(data))


__all__ = [
    "TASK_TIME_FIELDS",
    "TaskChange",
    "WorkerChange",
    "aware_filter",
    "task_change",
    "task_fields",
    "to_datetime",
    "worker_change",
]
