"""Worker types: a worker built from the inspect replies its query selected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from schema.core.mapping import build, build_all
from schema.core.task_data import task_data_field
from src.control.inspector import InspectKind, InspectReply
from src.workers.replies import (
    PoolInfo,
    TaskRequest,
    consumed_queues,
    parse_stats,
    registered_names,
    software_from_report,
    task_requests,
)

# Which inspect kinds each Worker field needs (GraphQL names); `stats` is always asked, since it
# says which workers are online. A query pays only for the kinds its fields need.
FIELD_KINDS: dict[str, frozenset[InspectKind]] = {
    "load": frozenset({InspectKind.ACTIVE}),
    "activeTasks": frozenset({InspectKind.ACTIVE}),
    "reservedTasks": frozenset({InspectKind.RESERVED}),
    "scheduledTasks": frozenset({InspectKind.SCHEDULED}),
    "registeredTasks": frozenset({InspectKind.REGISTERED}),
    "queues": frozenset({InspectKind.ACTIVE_QUEUES}),
    "revoked": frozenset({InspectKind.REVOKED}),
    "softwareVersion": frozenset({InspectKind.REPORT}),
}


def kinds_for(fields: Iterable[str]) -> set[InspectKind]:
    """The inspect kinds needed to answer the given Worker fields."""
    kinds = {InspectKind.STATS}
    for name in fields:
        kinds |= FIELD_KINDS.get(name, frozenset())
    return kinds


@strawberry.enum(description="Whether a worker answers now.")
class WorkerStatus(Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    ALL = "all"


@strawberry.type(description="A worker's execution pool.")
class WorkerPool:
    implementation: str | None
    processes: int = strawberry.field(description="Live pool processes (changes with grow/shrink).")
    max_concurrency: int | None = strawberry.field(
        description="Concurrency the worker started with."
    )
    pids: list[int]
    autoscale_min: int | None
    autoscale_max: int | None
    max_tasks_per_child: int | None
    soft_time_limit: float | None
    time_limit: float | None

    @classmethod
    def from_info(cls, info: PoolInfo) -> WorkerPool:
        soft, hard = (info.timeouts[0], info.timeouts[1]) if info.timeouts else (None, None)
        return build(cls, info, soft_time_limit=soft or None, time_limit=hard or None)


@strawberry.type(description="Tasks processed by a worker, by task name.")
class ProcessedCount:
    name: str
    count: int


@strawberry.type(description="A task a worker holds right now (active, reserved or scheduled).")
class WorkerTask:
    id: str
    name: str | None
    args: str | None = task_data_field("Positional arguments (repr).")
    kwargs: str | None = task_data_field("Keyword arguments (repr).")
    queue: str | None
    started_at: datetime | None
    eta: datetime | None
    priority: int | None
    worker_pid: int | None
    acknowledged: bool | None

    @classmethod
    def from_request(cls, request: TaskRequest) -> WorkerTask:
        return build(
            cls,
            request,
            id=str(request.id),
            args=_text(request.args),
            kwargs=_text(request.kwargs),
            started_at=_from_epoch(request.time_start),
            eta=datetime.fromisoformat(request.eta) if request.eta else None,
        )


@strawberry.type(description="A queue a worker consumes from.")
class ConsumedQueue:
    name: str
    exchange: str | None
    routing_key: str | None


@strawberry.type(description="A Celery worker, as it answers inspect broadcasts.")
class Worker:
    """Built whole from the replies of the inspect kinds the query selected (see
    `resolvers/workers/queries.py`): plain fields resolve far faster than one coroutine per field."""

    hostname: str
    online: bool
    last_heartbeat: datetime | None = strawberry.field(
        default=None,
        description="The worker's latest heartbeat event, else when it last answered inspect.",
    )
    pid: int | None = None
    uptime: float | None = strawberry.field(
        default=None, description="Seconds since the worker started."
    )
    pool: WorkerPool | None = None
    prefetch_count: int | None = strawberry.field(
        default=None, description="Messages the worker may prefetch."
    )
    processed: list[ProcessedCount] = strawberry.field(
        default_factory=list, description="Tasks processed since start, by name."
    )
    processed_total: int = strawberry.field(
        default=0, description="Tasks processed since start, all names."
    )
    resource_usage: JSON | None = strawberry.field(
        default=None, description="Resource usage reported by the worker (rusage)."
    )
    load: float | None = strawberry.field(
        default=None, description="Load: active tasks over pool processes (0..1)."
    )
    active_tasks: list[WorkerTask] = strawberry.field(default_factory=list)
    reserved_tasks: list[WorkerTask] = strawberry.field(default_factory=list)
    scheduled_tasks: list[WorkerTask] = strawberry.field(
        default_factory=list, description="Tasks with an ETA or countdown the worker holds."
    )
    registered_tasks: list[str] = strawberry.field(default_factory=list)
    queues: list[ConsumedQueue] = strawberry.field(default_factory=list)
    revoked: list[str] = strawberry.field(
        default_factory=list, description="Task ids this worker holds as revoked."
    )
    software_version: str | None = strawberry.field(
        default=None, description="Celery, kombu and Python versions the worker runs."
    )

    @strawberry.field(description="ONLINE when the worker answered the last broadcast.")
    def status(self) -> WorkerStatus:
        return WorkerStatus.ONLINE if self.online else WorkerStatus.OFFLINE

    @classmethod
    def build(
        cls,
        hostname: str,
        online: bool,
        replies: Mapping[InspectKind, InspectReply],
        *,
        heartbeat: datetime | None = None,
    ) -> Worker:
        """The worker as the given replies describe it; kinds not fetched leave defaults."""

        def of(kind: InspectKind) -> Any:
            reply = replies.get(kind)
            return reply.replies.get(hostname) if reply is not None else None

        worker = cls(hostname=hostname, online=online, last_heartbeat=heartbeat)
        stats_reply = replies.get(InspectKind.STATS)
        stats = parse_stats(of(InspectKind.STATS))
        if stats is not None:
            if worker.last_heartbeat is None and stats_reply is not None:
                worker.last_heartbeat = stats_reply.received_at
            worker.pid = stats.pid
            worker.uptime = stats.uptime
            worker.pool = WorkerPool.from_info(stats.pool)
            worker.prefetch_count = stats.prefetch_count
            processed = stats.processed or {}
            worker.processed = [
                ProcessedCount(name=k, count=v) for k, v in sorted(processed.items())
            ]
            worker.processed_total = sum(processed.values())
            worker.resource_usage = cast(JSON, stats.rusage)
        active = of(InspectKind.ACTIVE)
        if active is not None:
            worker.active_tasks = _tasks(active)
            if worker.pool is not None and worker.pool.processes:
                worker.load = round(len(active) / worker.pool.processes, 3)
        worker.reserved_tasks = _tasks(of(InspectKind.RESERVED))
        worker.scheduled_tasks = _tasks(of(InspectKind.SCHEDULED))
        worker.registered_tasks = registered_names(of(InspectKind.REGISTERED))
        worker.queues = build_all(ConsumedQueue, consumed_queues(of(InspectKind.ACTIVE_QUEUES)))
        worker.revoked = sorted(of(InspectKind.REVOKED) or [])
        worker.software_version = software_from_report(of(InspectKind.REPORT))
        return worker


def _tasks(raw: Any) -> list[WorkerTask]:
    return [WorkerTask.from_request(r) for r in task_requests(raw)]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


def _from_epoch(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value).astimezone()


__all__ = [
    "FIELD_KINDS",
    "ConsumedQueue",
    "ProcessedCount",
    "Worker",
    "WorkerPool",
    "WorkerStatus",
    "WorkerTask",
    "kinds_for",
]
