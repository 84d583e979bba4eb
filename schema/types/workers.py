"""Worker types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from src.control.inspector import InspectKind, InspectReply
from src.workers import PoolInfo, pool_info, processed_by_task, software_from_report


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
        return cls(
            implementation=info.implementation,
            processes=info.processes,
            max_concurrency=info.max_concurrency,
            pids=info.pids,
            autoscale_min=info.autoscale_min,
            autoscale_max=info.autoscale_max,
            max_tasks_per_child=info.max_tasks_per_child,
            soft_time_limit=soft or None,
            time_limit=hard or None,
        )


@strawberry.type(description="Tasks processed by a worker, by task name.")
class ProcessedCount:
    name: str
    count: int


@strawberry.type(description="A task a worker holds right now (active, reserved or scheduled).")
class WorkerTask:
    id: str
    name: str | None
    args: str | None
    kwargs: str | None
    queue: str | None
    started_at: datetime | None
    eta: datetime | None
    priority: int | None
    worker_pid: int | None
    acknowledged: bool | None

    @classmethod
    def from_reply(cls, raw: dict[str, Any], *, eta: str | None = None) -> WorkerTask:
        delivery = raw.get("delivery_info") or {}
        started = raw.get("time_start")
        return cls(
            id=str(raw.get("id")),
            name=raw.get("name") or raw.get("type"),
            args=_text(raw.get("args")),
            kwargs=_text(raw.get("kwargs")),
            queue=delivery.get("routing_key"),
            started_at=_from_epoch(started),
            eta=datetime.fromisoformat(eta) if eta else None,
            priority=delivery.get("priority"),
            worker_pid=raw.get("worker_pid"),
            acknowledged=raw.get("acknowledged"),
        )


@strawberry.type(description="A queue a worker consumes from.")
class ConsumedQueue:
    name: str
    exchange: str | None
    routing_key: str | None


@strawberry.type(description="A Celery worker, as it answers inspect broadcasts.")
class Worker:
    """Built whole from the replies of the inspect kinds the query selected (see
    `resolvers.workers`): plain fields resolve far faster than one coroutine per field."""

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
        stats = of(InspectKind.STATS)
        if stats:
            pool = pool_info(stats)
            totals = processed_by_task(stats)
            if worker.last_heartbeat is None and stats_reply is not None:
                worker.last_heartbeat = stats_reply.received_at
            worker.pid = stats.get("pid")
            worker.uptime = stats.get("uptime")
            worker.pool = WorkerPool.from_info(pool) if pool else None
            worker.prefetch_count = stats.get("prefetch_count")
            worker.processed = [ProcessedCount(name=k, count=v) for k, v in sorted(totals.items())]
            worker.processed_total = sum(totals.values())
            worker.resource_usage = stats.get("rusage")
        active = of(InspectKind.ACTIVE)
        if active is not None:
            worker.active_tasks = [WorkerTask.from_reply(t) for t in active]
            if worker.pool is not None and worker.pool.processes:
                worker.load = round(len(active) / worker.pool.processes, 3)
        worker.reserved_tasks = [WorkerTask.from_reply(t) for t in of(InspectKind.RESERVED) or []]
        worker.scheduled_tasks = [
            WorkerTask.from_reply(t.get("request") or {}, eta=t.get("eta"))
            for t in of(InspectKind.SCHEDULED) or []
        ]
        worker.registered_tasks = sorted(
            str(name).split(" ", 1)[0] for name in of(InspectKind.REGISTERED) or []
        )
        worker.queues = [
            ConsumedQueue(
                name=q.get("name"),
                exchange=(q.get("exchange") or {}).get("name"),
                routing_key=q.get("routing_key"),
            )
            for q in of(InspectKind.ACTIVE_QUEUES) or []
        ]
        worker.revoked = sorted(of(InspectKind.REVOKED) or [])
        worker.software_version = software_from_report(of(InspectKind.REPORT))
        return worker


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


def _from_epoch(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value).astimezone()


__all__ = ["ConsumedQueue", "ProcessedCount", "Worker", "WorkerPool", "WorkerStatus", "WorkerTask"]
