"""Worker types. Each field reads only the inspect kind it needs, so a query that asks for
hostnames and pools costs one `stats` broadcast, however many workers there are."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from schema.context import Info
from src.control.inspector import InspectKind
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
    hostname: str
    online: bool
    # The worker's own time of its latest heartbeat, from the collector's registry, when known.
    heartbeat: strawberry.Private[datetime | None] = None

    @strawberry.field(description="ONLINE when the worker answered the last broadcast.")
    def status(self) -> WorkerStatus:
        return WorkerStatus.ONLINE if self.online else WorkerStatus.OFFLINE

    @strawberry.field(
        description="The worker's latest heartbeat event, else when it last answered inspect."
    )
    async def last_heartbeat(self, info: Info) -> datetime | None:
        if self.heartbeat is not None:
            return self.heartbeat
        reply = await info.context.view.reply(InspectKind.STATS)
        return reply.received_at if self.hostname in reply.replies else None

    @strawberry.field
    async def pid(self, info: Info) -> int | None:
        stats = await info.context.view.of(InspectKind.STATS, self.hostname)
        return stats.get("pid") if stats else None

    @strawberry.field(description="Seconds since the worker started.")
    async def uptime(self, info: Info) -> float | None:
        stats = await info.context.view.of(InspectKind.STATS, self.hostname)
        return stats.get("uptime") if stats else None

    @strawberry.field
    async def pool(self, info: Info) -> WorkerPool | None:
        pool = pool_info(await info.context.view.of(InspectKind.STATS, self.hostname))
        return WorkerPool.from_info(pool) if pool else None

    @strawberry.field(description="Messages the worker may prefetch.")
    async def prefetch_count(self, info: Info) -> int | None:
        stats = await info.context.view.of(InspectKind.STATS, self.hostname)
        return stats.get("prefetch_count") if stats else None

    @strawberry.field(description="Tasks processed since start, by name.")
    async def processed(self, info: Info) -> list[ProcessedCount]:
        totals = processed_by_task(await info.context.view.of(InspectKind.STATS, self.hostname))
        return [ProcessedCount(name=k, count=v) for k, v in sorted(totals.items())]

    @strawberry.field(description="Tasks processed since start, all names.")
    async def processed_total(self, info: Info) -> int:
        totals = processed_by_task(await info.context.view.of(InspectKind.STATS, self.hostname))
        return sum(totals.values())

    @strawberry.field(description="Resource usage reported by the worker (rusage).")
    async def resource_usage(self, info: Info) -> JSON | None:
        stats = await info.context.view.of(InspectKind.STATS, self.hostname)
        return stats.get("rusage") if stats else None

    @strawberry.field(description="Load: active tasks over pool processes (0..1).")
    async def load(self, info: Info) -> float | None:
        pool = pool_info(await info.context.view.of(InspectKind.STATS, self.hostname))
        active = await info.context.view.of(InspectKind.ACTIVE, self.hostname)
        if not pool or not pool.processes or active is None:
            return None
        return round(len(active) / pool.processes, 3)

    @strawberry.field
    async def active_tasks(self, info: Info) -> list[WorkerTask]:
        raw = await info.context.view.of(InspectKind.ACTIVE, self.hostname) or []
        return [WorkerTask.from_reply(t) for t in raw]

    @strawberry.field
    async def reserved_tasks(self, info: Info) -> list[WorkerTask]:
        raw = await info.context.view.of(InspectKind.RESERVED, self.hostname) or []
        return [WorkerTask.from_reply(t) for t in raw]

    @strawberry.field(description="Tasks with an ETA or countdown the worker holds.")
    async def scheduled_tasks(self, info: Info) -> list[WorkerTask]:
        raw = await info.context.view.of(InspectKind.SCHEDULED, self.hostname) or []
        return [WorkerTask.from_reply(t.get("request") or {}, eta=t.get("eta")) for t in raw]

    @strawberry.field
    async def registered_tasks(self, info: Info) -> list[str]:
        raw = await info.context.view.of(InspectKind.REGISTERED, self.hostname) or []
        return sorted(str(name).split(" ", 1)[0] for name in raw)

    @strawberry.field
    async def queues(self, info: Info) -> list[ConsumedQueue]:
        raw = await info.context.view.of(InspectKind.ACTIVE_QUEUES, self.hostname) or []
        return [
            ConsumedQueue(
                name=q.get("name"),
                exchange=(q.get("exchange") or {}).get("name"),
                routing_key=q.get("routing_key"),
            )
            for q in raw
        ]

    @strawberry.field(description="Task ids this worker holds as revoked.")
    async def revoked(self, info: Info) -> list[str]:
        return sorted(await info.context.view.of(InspectKind.REVOKED, self.hostname) or [])

    @strawberry.field(description="Celery, kombu and Python versions the worker runs.")
    async def software_version(self, info: Info) -> str | None:
        return software_from_report(await info.context.view.of(InspectKind.REPORT, self.hostname))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


def _from_epoch(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value).astimezone()


__all__ = ["ConsumedQueue", "ProcessedCount", "Worker", "WorkerPool", "WorkerStatus", "WorkerTask"]
