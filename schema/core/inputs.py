"""The task filter input, shared by `tasks`, `taskEvents`, `revokeTasks` previews and alerts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import strawberry

from src.access_scope import AccessScope
from src.errors import BadInput
from src.task_filter import TaskFilter, TaskState, TimeRange

# Registers the domain enum with Strawberry (it annotates the class in place).
TaskStateEnum = strawberry.enum(TaskState, name="TaskState", description="A task's state.")

MAX_LIST = 100
MAX_TEXT = 200


@strawberry.input(description="A time range: after is inclusive, before exclusive.")
class TimeRangeInput:
    after: datetime | None = None
    before: datetime | None = None

    def to_domain(self, name: str) -> TimeRange:
        after, before = _utc(self.after, name), _utc(self.before, name)
        if after and before and after >= before:
            raise BadInput(f"{name}: 'after' must be earlier than 'before'", field=name)
        return TimeRange(after=after, before=before)


def _utc(value: datetime | None, name: str) -> datetime | None:
    """In UTC; a time without an offset is taken as UTC (comparing naive with aware times
    fails). A time that has no UTC equivalent (year 1 at +05:00) is BAD_INPUT, not a database
    error."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadInput(f"{name}: {value.isoformat()} is out of range in UTC", field=name) from None


@strawberry.input(description="Which tasks: every given field must match (lists match any member).")
class TaskFilterInput:
    ids: list[str] | None = None
    states: list[TaskState] | None = None
    names: list[str] | None = None
    queues: list[str] | None = None
    workers: list[str] | None = None
    received: TimeRangeInput | None = None
    started: TimeRangeInput | None = None
    finished: TimeRangeInput | None = None
    runtime_min: float | None = None
    runtime_max: float | None = None
    retries_min: int | None = None
    retries_max: int | None = None
    parent_id: str | None = None
    root_id: str | None = None
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive text in args, kwargs, result or exception."
    )

    def to_domain(self) -> TaskFilter:
        """Validated domain filter; BAD_INPUT naming the field when a value makes no sense."""
        for name in ("ids", "states", "names", "queues", "workers"):
            values = getattr(self, name) or []
            if len(values) > MAX_LIST:
                raise BadInput(f"{name}: at most {MAX_LIST} values", field=name)
        for low, high, name in (
            (self.runtime_min, self.runtime_max, "runtime"),
            (self.retries_min, self.retries_max, "retries"),
        ):
            if (low is not None and low < 0) or (high is not None and high < 0):
                raise BadInput(f"{name}: must not be negative", field=f"{name}Min")
            if low is not None and high is not None and low > high:
                raise BadInput(f"{name}: min is greater than max", field=f"{name}Min")
        text = (self.text or "").strip() or None
        if text is not None and len(text) > MAX_TEXT:
            raise BadInput(f"text: at most {MAX_TEXT} characters", field="text")
        return TaskFilter(
            ids=tuple(self.ids or ()),
            states=tuple(TaskState(s) for s in self.states or ()),
            names=tuple(self.names or ()),
            queues=tuple(self.queues or ()),
            workers=tuple(self.workers or ()),
            received=self.received.to_domain("received") if self.received else TimeRange(),
            started=self.started.to_domain("started") if self.started else TimeRange(),
            finished=self.finished.to_domain("finished") if self.finished else TimeRange(),
            runtime_min=self.runtime_min,
            runtime_max=self.runtime_max,
            retries_min=self.retries_min,
            retries_max=self.retries_max,
            parent_id=self.parent_id,
            root_id=self.root_id,
            text=text,
        )


def to_task_filter(value: TaskFilterInput | None, scope: AccessScope | None = None) -> TaskFilter:
    """The domain filter, limited to `scope` (a scoped caller's, from the guard) when given."""
    domain = value.to_domain() if value is not None else TaskFilter()
    return replace(domain, scope=scope) if scope is not None else domain


__all__ = ["TaskFilterInput", "TaskStateEnum", "TimeRangeInput", "to_task_filter"]
