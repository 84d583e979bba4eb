"""Payloads of the control mutations on tasks and workers (the shared payload types live in
schema/core/payloads.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

import strawberry
from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.inputs import TaskFilterInput, to_task_filter
from schema.core.mapping import build, build_all
from schema.core.payloads import ControlPayload, MutationPayload
from src.control.result import CommandResult
from src.control.tasks import BulkRequest

Workers = Annotated[
    list[str] | None,
    strawberry.argument(description="Hostnames to act on; null for every live worker."),
]


def bulk_request(
    info: Info, task_filter: TaskFilterInput | None, token: str | None, sample: int
) -> BulkRequest:
    """The phase of a bulk mutation its arguments ask for, on behalf of the caller."""
    domain = to_task_filter(task_filter, info.context.task_scope) if task_filter else None
    return BulkRequest(domain, token, info.context.caller().subject, sample)


@strawberry.type(description="A task as a selection preview shows it.")
class TaskSummary:
    id: str
    name: str | None
    state: str | None
    queue: str | None
    worker: str | None


@strawberry.type(description="The frozen set of tasks a bulk action will act on.")
class TaskSelection:
    token: str = strawberry.field(description="Pass to the execute step; single use, expiring.")
    count: int
    sample: list[TaskSummary]
    expires_at: datetime


@strawberry.type(
    description="A task action: a preview (selection) or the ids acted on (for retries the new ids)."
)
class TaskActionPayload(MutationPayload):
    selection: TaskSelection | None = None
    task_ids: list[str] = strawberry.field(default_factory=list)
    observed: JSON | None = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        data = result.data
        return super().of(
            result,
            selection=build(TaskSelection, data) if "token" in data else None,
            task_ids=list(data.get("task_ids", [])),
            observed=result.observed,
            **produced,
        )


@strawberry.type(description="One step of a system shutdown.")
class ShutdownStep:
    name: str
    ok: bool
    detail: JSON | None


@strawberry.type(description="A system shutdown, step by step.")
class ShutdownSystemPayload(MutationPayload):
    steps: list[ShutdownStep] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        steps = build_all(ShutdownStep, result.data.get("steps", []))
        return super().of(result, steps=steps, **produced)


__all__ = [
    "ControlPayload",
    "ShutdownStep",
    "ShutdownSystemPayload",
    "TaskActionPayload",
    "TaskSelection",
    "TaskSummary",
    "Workers",
    "bulk_request",
]
