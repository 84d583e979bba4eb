"""The one task filter, shared by the `tasks` query, task subscriptions, bulk previews and alerts.

`TaskFilter` is plain data. `matches()` applies it to one task held in memory (a live event);
`src/task_store/filters.py` compiles the same filter to SQL. Empty fields do not constrain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from src.access_scope import AccessScope


class TaskState(StrEnum):
    """Celery's states plus LOST (started on a worker that went away) and UNKNOWN (no worker holds
    it and its end was never seen)."""

    PENDING = "PENDING"
    RECEIVED = "RECEIVED"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    RETRY = "RETRY"
    REVOKED = "REVOKED"
    REJECTED = "REJECTED"
    LOST = "LOST"
    UNKNOWN = "UNKNOWN"  # its end was never seen (src/collector/settle.py)


FINISHED_STATES = frozenset(
    {TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED, TaskState.REJECTED, TaskState.LOST}
)

# Text search looks at these fields (args/kwargs reprs, result, exception).
TEXT_FIELDS = ("args", "kwargs", "result", "exception")


@dataclass(frozen=True, slots=True)
class TimeRange:
    after: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive

    def contains(self, value: datetime | None) -> bool:
        if self.after is None and self.before is None:
            return True
        if value is None:
            return False
        if self.after is not None and value < self.after:
            return False
        return not (self.before is not None and value >= self.before)

    @property
    def empty(self) -> bool:
        return self.after is None and self.before is None


@dataclass(frozen=True, slots=True)
class TaskFilter:
    ids: tuple[str, ...] = ()
    states: tuple[TaskState, ...] = ()
    names: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    received: TimeRange = field(default_factory=TimeRange)
    started: TimeRange = field(default_factory=TimeRange)
    finished: TimeRange = field(default_factory=TimeRange)
    runtime_min: float | None = None
    runtime_max: float | None = None
    retries_min: int | None = None
    retries_max: int | None = None
    parent_id: str | None = None
    root_id: str | None = None
    text: str | None = None  # case-insensitive substring of args, kwargs, result or exception
    # A scoped caller's limit (src/access_scope.py), added by the server, never by the caller.
    scope: AccessScope | None = None

    def matches(self, task: Mapping[str, Any]) -> bool:
        """Does one task (keys as in TaskRecord's columns) pass the filter?"""
        if self.scope is not None and not self.scope.allows_task(task):
            return False
        if self.ids and task.get("task_id") not in self.ids:
            return False
        if self.states and task.get("state") not in self.states:
            return False
        for wanted, key in ((self.names, "name"), (self.queues, "queue"), (self.workers, "worker")):
            if wanted and task.get(key) not in wanted:
                return False
        if not self.received.contains(task.get("received_at")):
            return False
        if not self.started.contains(task.get("started_at")):
            return False
        if not self.finished.contains(task.get("finished_at")):
            return False
        if not _within(task.get("runtime"), self.runtime_min, self.runtime_max):
            return False
        if not _within(task.get("retries"), self.retries_min, self.retries_max):
            return False
        if self.parent_id and task.get("parent_id") != self.parent_id:
            return False
        if self.root_id and task.get("root_id") != self.root_id:
            return False
        if self.text:
            needle = self.text.lower()
            if not any(needle in str(task.get(k) or "").lower() for k in TEXT_FIELDS):
                return False
        return True


def _within(value: Any, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


__all__ = ["FINISHED_STATES", "TEXT_FIELDS", "TaskFilter", "TaskState", "TimeRange"]
