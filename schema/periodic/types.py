"""Periodic-task types: an entry with its schedule, call, health and recent runs; the payloads of
running one now and switching one on or off."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self, cast

import strawberry
from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.payloads import MutationPayload
from schema.core.task_data import NOTE
from schema.periodic.beat import PeriodicHealthEnum, PeriodicSourceEnum  # noqa: F401  (registers)
from schema.periodic.task_data import task_data
from schema.tasks.types import Task, family
from src.audit.service import jsonable
from src.control.result import CommandResult
from src.errors import BadInput
from src.periodic.model import EntryState, Health, Run, ScheduleKind, Source

MAX_RUNS = 20

ScheduleKindEnum = strawberry.enum(
    ScheduleKind, name="PeriodicScheduleKind", description="What kind of schedule an entry has."
)


@strawberry.type(
    description="A schedule in words and in its own form (the fields its store keeps)."
)
class PeriodicSchedule:
    kind: ScheduleKind
    words: str = strawberry.field(description='e.g. "every 10 seconds", "every minute (cron …)".')
    form: JSON = strawberry.field(
        description="As its store keeps it, e.g. {type: crontab, minute: '*/5', ...}."
    )


@strawberry.type(description="One run of a periodic entry: a task of the history that matched it.")
class PeriodicRun:
    task_id: str
    state: str = strawberry.field(description="A TaskState value.")
    seen_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    runtime: float | None
    worker: str | None
    args_matched: bool = strawberry.field(
        description="False when the recorded arguments could not be read: matched by name only."
    )

    @classmethod
    def from_run(cls, run: Run) -> PeriodicRun:
        return cls(
            task_id=run.task_id,
            state=run.state,
            seen_at=run.seen_at,
            sent_at=run.sent_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            runtime=run.runtime,
            worker=run.worker,
            args_matched=run.args_matched,
        )

    @strawberry.field(description="The task in the history (its result, exception, ...).")
    async def task(self, info: Info) -> Task | None:
        found = await family(info).parents.load(self.task_id)  # the by-id loader of this request
        return Task.from_record(found) if found else None


@strawberry.type(description="A periodic task: a beat schedule entry, wherever it is kept.")
class PeriodicTask:
    name: str
    task: str = strawberry.field(description="The Celery task it sends.")
    source: Source
    schedule: PeriodicSchedule
    queue: str | None = strawberry.field(
        description="The queue in its options (null: the app's routing decides)."
    )
    options: JSON = strawberry.field(
        description="Its other send options (exchange, routing_key, priority, expires), headers "
        "left out."
    )
    enabled: bool
    writable: bool = strawberry.field(
        description="Whether setPeriodicTaskEnabled can change it (false for STATIC)."
    )
    description: str | None
    last_run_at: datetime | None = strawberry.field(
        description="The later of what its store records and its newest run in the task history."
    )
    total_run_count: int | None = strawberry.field(description="As its store counts (if it does).")
    next_run_at: datetime | None = strawberry.field(
        description="When its next run is due (in the past while overdue); null when unknown."
    )
    overdue_seconds: float | None = strawberry.field(
        description="How long a due run has been outstanding (null: none is)."
    )
    grace_seconds: float = strawberry.field(
        description="How long a due run may be outstanding before MISSED (periodic.grace_seconds)."
    )
    health: Health
    _state: strawberry.Private[EntryState]

    @classmethod
    def from_state(cls, state: EntryState) -> PeriodicTask:
        entry = state.entry
        options = {k: v for k, v in entry.options.items() if k not in ("queue", "headers")}
        return cls(
            name=entry.name,
            task=entry.task,
            source=entry.source,
            schedule=PeriodicSchedule(
                kind=entry.schedule.kind,
                words=entry.schedule.words,
                form=cast(JSON, jsonable(entry.schedule.form)),
            ),
            queue=entry.queue,
            options=cast(JSON, jsonable(options)),
            enabled=entry.enabled,
            writable=entry.source.writable,
            description=entry.description,
            last_run_at=state.last_run_at,
            total_run_count=entry.total_run_count,
            next_run_at=state.next_run_at,
            overdue_seconds=state.overdue_seconds,
            grace_seconds=state.grace_seconds,
            health=state.health,
            _state=state,
        )

    @strawberry.field(description="Positional arguments it sends." + NOTE)
    def args(self, info: Info) -> JSON | None:
        return task_data(info, self._state.entry.args)

    @strawberry.field(description="Keyword arguments it sends." + NOTE)
    def kwargs(self, info: Info) -> JSON | None:
        return task_data(info, self._state.entry.kwargs)

    @strawberry.field(
        description=f"Its last runs, newest first (at most {MAX_RUNS}), from the task history: "
        "tasks of the same name and arguments seen in the last 7 days."
    )
    def recent_runs(self, first: int = 10) -> list[PeriodicRun]:
        if not 0 <= first <= MAX_RUNS:
            raise BadInput(f"first: between 0 and {MAX_RUNS}", field="first")
        return [PeriodicRun.from_run(r) for r in self._state.runs[:first]]


@strawberry.type(description="A periodic entry's task, sent now.")
class RunPeriodicTaskPayload(MutationPayload):
    name: str | None = None
    task_id: str | None = strawberry.field(default=None, description="The task sent.")
    task: str | None = None
    queue: str | None = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        data = result.data
        return super().of(
            result,
            name=data.get("name"),
            task_id=data.get("task_id"),
            task=data.get("task"),
            queue=data.get("queue"),
            **produced,
        )


@strawberry.type(description="A periodic entry switched on or off, as its store now holds it.")
class PeriodicTaskEnabledPayload(MutationPayload):
    name: str | None = None
    source: Source | None = None
    enabled: bool | None = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        data = result.data
        return super().of(
            result,
            name=data.get("name"),
            source=Source(data["source"]) if data.get("source") else None,
            enabled=data.get("enabled"),
            **produced,
        )


__all__ = [
    "PeriodicRun",
    "PeriodicSchedule",
    "PeriodicTask",
    "PeriodicTaskEnabledPayload",
    "RunPeriodicTaskPayload",
    "ScheduleKindEnum",
]
