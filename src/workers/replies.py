"""What workers' inspect replies say, parsed in one place.

Celery's replies are loose dicts (`stats`, `active_queues`, `active`/`reserved`/`scheduled`,
`report`) whose keys differ between pools and versions. Everything that reads them (the `workers`
query, control commands observing their effect, the sampler, the subscriptions' starting state,
the task lookup) goes through these functions, so they agree on what a reply means: e.g. a pool's
size is the number of live pool processes (which `poolGrow`/`poolShrink` change), never the
`max-concurrency` the worker started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PoolInfo:
    implementation: str | None
    processes: int  # live pool processes: what pool_grow/shrink really changed
    max_concurrency: int | None  # as configured at start (Celery never updates it)
    pids: list[int]
    autoscale_min: int | None
    autoscale_max: int | None
    max_tasks_per_child: int | None
    timeouts: list[float] | None


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker's `stats` reply."""

    pid: int | None
    uptime: float | None
    pool: PoolInfo
    processed: dict[str, int] | None  # by task name; None when the reply had no totals
    prefetch_count: int | None
    rusage: dict[str, Any] | None
    autoscaler: dict[str, Any] | None

    @property
    def processed_total(self) -> int | None:
        return None if self.processed is None else sum(self.processed.values())

    @property
    def loadavg(self) -> list[float] | None:
        value = (self.rusage or {}).get("loadavg")
        return list(value) if isinstance(value, list | tuple) and value else None


@dataclass(frozen=True, slots=True)
class ConsumedQueue:
    name: str
    exchange: str | None
    routing_key: str | None


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A task a worker holds, from an `active`, `reserved` or `scheduled` reply."""

    id: str | None
    name: str | None
    args: Any
    kwargs: Any
    queue: str | None
    time_start: float | None  # epoch seconds, active tasks only
    eta: str | None  # ISO time, scheduled tasks only
    priority: int | None
    worker_pid: int | None
    acknowledged: bool | None
    retries: int | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _pool(pool: dict[str, Any], autoscaler: dict[str, Any]) -> PoolInfo:
    processes = pool.get("processes")
    pids = [int(p) for p in processes] if isinstance(processes, list) else []
    implementation = pool.get("implementation")
    if isinstance(implementation, str):  # 'celery.concurrency.prefork:TaskPool' -> 'prefork'
        implementation = implementation.split(":", 1)[0].rsplit(".", 1)[-1]
    max_concurrency = _int(pool.get("max-concurrency"))
    timeouts = pool.get("timeouts")
    return PoolInfo(
        implementation=implementation,
        # Pools without process ids (threads, solo, gevent) report only their concurrency.
        processes=len(pids) if pids else (max_concurrency or 0),
        max_concurrency=max_concurrency,
        pids=pids,
        autoscale_min=autoscaler.get("min") if autoscaler else None,
        autoscale_max=autoscaler.get("max") if autoscaler else None,
        max_tasks_per_child=_int(pool.get("max-tasks-per-child")),
        timeouts=[float(t) for t in timeouts] if isinstance(timeouts, list | tuple) else None,
    )


def parse_stats(raw: Any) -> WorkerStats | None:
    """A `stats` reply; None for an empty or missing one."""
    if not isinstance(raw, dict) or not raw:
        return None
    total = raw.get("total")
    processed = (
        {str(k): int(v) for k, v in total.items() if _number(v) is not None}
        if isinstance(total, dict)
        else None
    )
    autoscaler = _dict(raw.get("autoscaler"))
    return WorkerStats(
        pid=_int(raw.get("pid")),
        uptime=_number(raw.get("uptime")),
        pool=_pool(_dict(raw.get("pool")), autoscaler),
        processed=processed,
        prefetch_count=_int(raw.get("prefetch_count")),
        rusage=raw.get("rusage") if isinstance(raw.get("rusage"), dict) else None,
        autoscaler=autoscaler or None,
    )


def pool_processes(raw: Any) -> int | None:
    """Live pool processes from a `stats` reply; None when the worker did not answer."""
    stats = parse_stats(raw)
    return stats.pool.processes if stats is not None else None


def consumed_queues(raw: Any) -> list[ConsumedQueue]:
    """An `active_queues` reply: the queues a worker consumes from."""
    found = []
    for queue in raw or ():
        if isinstance(queue, dict) and queue.get("name"):
            found.append(
                ConsumedQueue(
                    name=str(queue["name"]),
                    exchange=_dict(queue.get("exchange")).get("name"),
                    routing_key=queue.get("routing_key"),
                )
            )
    return found


def queue_names(raw: Any) -> list[str]:
    """The names in an `active_queues` reply, in the worker's order."""
    return [q.name for q in consumed_queues(raw)]


def task_request(item: Any) -> TaskRequest:
    """One entry of an `active`/`reserved` reply, or of a `scheduled` one (which wraps the request
    as `{"eta", "priority", "request"}`)."""
    item = _dict(item)
    eta = item.get("eta") if "request" in item else None
    request = _dict(item.get("request")) if "request" in item else item
    delivery = _dict(request.get("delivery_info"))
    task_id = request.get("id")
    return TaskRequest(
        id=str(task_id) if task_id is not None else None,
        name=request.get("name") or request.get("type"),
        args=request.get("args"),
        kwargs=request.get("kwargs"),
        queue=delivery.get("routing_key"),
        time_start=_number(request.get("time_start")),
        eta=eta if isinstance(eta, str) else None,
        priority=_int(delivery.get("priority")),
        worker_pid=_int(request.get("worker_pid")),
        acknowledged=request.get("acknowledged"),
        retries=_int(_dict(request.get("request")).get("retries")),
    )


def task_requests(raw: Any) -> list[TaskRequest]:
    return [task_request(item) for item in raw or ()]


def registered_names(raw: Any) -> list[str]:
    """A `registered` reply: task names (without the `[rate_limit=...]` attributes), sorted."""
    return sorted(str(name).split(" ", 1)[0] for name in raw or ())


def software_from_report(report: Any) -> str | None:
    """`report` replies carry e.g. 'software -> celery:5.7.0 (recovery) kombu:5.7.0 py:3.11.7'."""
    text = report.get("ok") if isinstance(report, dict) else None
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        if line.startswith("software ->"):
            return line.removeprefix("software ->").strip()
    return None


__all__ = [
    "ConsumedQueue",
    "PoolInfo",
    "TaskRequest",
    "WorkerStats",
    "consumed_queues",
    "parse_stats",
    "pool_processes",
    "queue_names",
    "registered_names",
    "software_from_report",
    "task_request",
    "task_requests",
]
