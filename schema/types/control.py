"""Mutation payloads, Saleor style: every payload has `ok`, `errors { field message code }`,
`auditId` and the workers' `replies`; each mutation adds what it produced."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from src.control.broadcast import WorkerReply as DomainReply
from src.errors import AppError, ErrorCode
from src.system_config import ConfigValue

# Registers the domain enum with Strawberry (it annotates the class in place).
ErrorCodeEnum = strawberry.enum(ErrorCode, name="ErrorCode", description="A stable error code.")


@strawberry.type(description="Why (part of) a mutation failed.")
class MutationError:
    field: str | None = strawberry.field(description="The input field (or worker, task) at fault.")
    message: str
    code: ErrorCode

    @classmethod
    def from_app(cls, error: AppError) -> MutationError:
        return cls(field=error.field, message=error.message, code=error.code)


@strawberry.type(description="One worker's answer to a control command.")
class WorkerReply:
    hostname: str
    ok: bool
    message: str | None

    @classmethod
    def from_domain(cls, reply: DomainReply) -> WorkerReply:
        return cls(hostname=reply.hostname, ok=reply.ok, message=reply.message)


@strawberry.interface(description="What every mutation returns.")
class MutationPayload:
    ok: bool = strawberry.field(description="True when the action ran and nothing failed.")
    errors: list[MutationError]
    audit_id: strawberry.ID | None = strawberry.field(
        description="The audit record of this attempt."
    )
    replies: list[WorkerReply] = strawberry.field(description="Each worker's reply, if any.")


@strawberry.type(description="A control command on workers or tasks, with what was observed.")
class ControlPayload(MutationPayload):
    state_before: JSON | None = None
    state_after: JSON | None = None
    observed: JSON | None = None


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


@strawberry.type(description="A purged queue.")
class PurgeQueuePayload(MutationPayload):
    queue: str | None = None
    purged: int | None = strawberry.field(
        default=None, description="Messages removed, every priority sub-queue included."
    )


@strawberry.type(description="One step of a system shutdown.")
class ShutdownStep:
    name: str
    ok: bool
    detail: JSON | None


@strawberry.type(description="A system shutdown, step by step.")
class ShutdownSystemPayload(MutationPayload):
    steps: list[ShutdownStep] = strawberry.field(default_factory=list)


@strawberry.type(description="An operator-editable setting in celery_system_config.")
class ConfigEntry:
    key: str
    value: JSON
    version: int = strawberry.field(description="0 while the default was never changed.")
    updated_by: str | None
    updated_at: datetime | None
    description: str

    @classmethod
    def from_value(cls, value: ConfigValue) -> ConfigEntry:
        return cls(
            key=value.key,
            value=value.value,
            version=value.version,
            updated_by=value.updated_by,
            updated_at=value.updated_at,
            description=value.description,
        )


@strawberry.type(description="A changed setting.")
class SystemConfigPayload(MutationPayload):
    entry: ConfigEntry | None = None


@strawberry.type(description="Whether monitoring runs, cluster-wide.")
class MonitoringPayload(MutationPayload):
    enabled: bool | None = None


@strawberry.type(description="Celery's configuration (secrets masked) and the editable settings.")
class SystemConfiguration:
    celery: JSON
    entries: list[ConfigEntry]


__all__ = [
    "ConfigEntry",
    "ControlPayload",
    "ErrorCodeEnum",
    "MonitoringPayload",
    "MutationError",
    "MutationPayload",
    "PurgeQueuePayload",
    "ShutdownStep",
    "ShutdownSystemPayload",
    "SystemConfigPayload",
    "SystemConfiguration",
    "TaskActionPayload",
    "TaskSelection",
    "TaskSummary",
    "WorkerReply",
]
