"""What a worker looks like, derived from its inspect replies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from src.control.inspector import InspectKind

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


def pool_info(stats: dict[str, Any] | None) -> PoolInfo | None:
    if not stats:
        return None
    pool = stats.get("pool") or {}
    processes = pool.get("processes")
    pids = [int(p) for p in processes] if isinstance(processes, list) else []
    autoscaler = stats.get("autoscaler") or {}
    implementation = pool.get("implementation")
    if isinstance(implementation, str):  # 'celery.concurrency.prefork:TaskPool' -> 'prefork'
        implementation = implementation.split(":", 1)[0].rsplit(".", 1)[-1]
    count = len(pids) if pids else int(pool.get("max-concurrency") or 0)
    timeouts = pool.get("timeouts")
    return PoolInfo(
        implementation=implementation,
        processes=count,
        max_concurrency=pool.get("max-concurrency"),
        pids=pids,
        autoscale_min=autoscaler.get("min") if autoscaler else None,
        autoscale_max=autoscaler.get("max") if autoscaler else None,
        max_tasks_per_child=pool.get("max-tasks-per-child"),
        timeouts=[float(t) for t in timeouts] if isinstance(timeouts, list | tuple) else None,
    )


def processed_by_task(stats: dict[str, Any] | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in ((stats or {}).get("total") or {}).items()}


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
    "FIELD_KINDS",
    "PoolInfo",
    "kinds_for",
    "pool_info",
    "processed_by_task",
    "software_from_report",
]
