"""Snapshots: a coarse, durable copy of the sample stream (celery_monitoring_snapshots), the
retention that prunes it, and `metrics_history`, which buckets it for charts.

History reads only the scalar columns (never the JSON sample) and buckets in Python while
streaming, so memory stays bounded by the number of points, which `MAX_POINTS` caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.db.models import AlertRecord, MonitoringSnapshot
from src.errors import BadInput
from src.monitoring.sample import MetricsSample

MAX_POINTS = 1000
MIN_STEP_SECONDS = 1
MAX_RANGE = timedelta(days=366)


async def write_snapshot(sessions: async_sessionmaker[AsyncSession], sample: MetricsSample) -> None:
    async with sessions() as session, session.begin():
        session.add(
            MonitoringSnapshot(
                taken_at=sample.taken_at,
                workers_online=sample.workers_online,
                tasks_active=sample.tasks_active,
                queued_total=sample.queued_total,
                succeeded_per_min=sample.throughput.succeeded_per_minute,
                failed_per_min=sample.throughput.failed_per_minute,
                cpu_percent=sample.host.cpu_percent,
                memory_percent=sample.host.memory_percent,
                disk_percent=sample.host.disk_percent,
                max_wait_seconds=sample.max_wait_seconds(),
                runtime_p50=sample.throughput.runtime.p50,
                runtime_p95=sample.throughput.runtime.p95,
                data=sample.model_dump(mode="json"),
            )
        )


async def prune(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, retention_days: float
) -> int:
    """Delete snapshots and resolved alerts older than the retention; returns snapshots deleted."""
    cutoff = now - timedelta(days=retention_days)
    async with sessions() as session, session.begin():
        result = await session.execute(
            delete(MonitoringSnapshot).where(MonitoringSnapshot.taken_at < cutoff)
        )
        await session.execute(
            delete(AlertRecord).where(
                AlertRecord.resolved_at.is_not(None), AlertRecord.resolved_at < cutoff
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class HistoryPoint:
    at: datetime  # the bucket's start
    samples: int = 0
    workers_online: float | None = None  # averages over the bucket...
    tasks_active: float | None = None
    succeeded_per_minute: float | None = None
    failed_per_minute: float | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    runtime_p50: float | None = None
    runtime_p95: float | None = None
    queued_total: int | None = None  # ...and maxima
    max_wait_seconds: float | None = None
    _sums: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)


_AVERAGED = (
    "workers_online",
    "tasks_active",
    "succeeded_per_minute",
    "failed_per_minute",
    "cpu_percent",
    "memory_percent",
    "runtime_p50",
    "runtime_p95",
)


def validate_range(start: datetime, end: datetime, step_seconds: int) -> int:
    """The number of points, or BAD_INPUT naming what is wrong."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadInput("from and to need a time zone (e.g. 2026-11-28T12:00:00Z)", field="from")
    if end <= start:
        raise BadInput("'to' must be later than 'from'", field="to")
    if end - start > MAX_RANGE:
        raise BadInput(f"the range may span at most {MAX_RANGE.days} days", field="from")
    if step_seconds < MIN_STEP_SECONDS:
        raise BadInput(f"step must be at least {MIN_STEP_SECONDS} second", field="step")
    points = math.ceil((end - start).total_seconds() / step_seconds)
    if points > MAX_POINTS:
        raise BadInput(
            f"{points} points requested; at most {MAX_POINTS}: use a larger step", field="step"
        )
    return points


async def metrics_history(
    sessions: async_sessionmaker[AsyncSession], start: datetime, end: datetime, step_seconds: int
) -> list[HistoryPoint]:
    """One point per `step` from `start` (inclusive) to `end` (exclusive); empty buckets have
    `samples == 0` and null values, so charts show the gap."""
    count = validate_range(start, end, step_seconds)
    points = [HistoryPoint(at=start + timedelta(seconds=i * step_seconds)) for i in range(count)]
    S = MonitoringSnapshot
    query = (
        select(
            S.taken_at,
            S.workers_online,
            S.tasks_active,
            S.succeeded_per_min,
            S.failed_per_min,
            S.cpu_percent,
            S.memory_percent,
            S.runtime_p50,
            S.runtime_p95,
            S.queued_total,
            S.max_wait_seconds,
        )
        .where(S.taken_at >= start, S.taken_at < end)
        .order_by(S.taken_at)
        .execution_options(yield_per=1000)
    )
    async with sessions() as session:
        result = await session.stream(query)
        async for row in result:
            index = int((row[0] - start).total_seconds() // step_seconds)
            if not 0 <= index < count:
                continue
            point = points[index]
            point.samples += 1
            for name, value in zip(_AVERAGED, row[1:9], strict=True):
                if value is not None:
                    total, n = point._sums.get(name, (0.0, 0))
                    point._sums[name] = (total + float(value), n + 1)
            queued, wait = row[9], row[10]
            if queued is not None:
                point.queued_total = max(point.queued_total or 0, int(queued))
            if wait is not None:
                point.max_wait_seconds = max(point.max_wait_seconds or 0.0, float(wait))
    for point in points:
        for name, (total, n) in point._sums.items():
            setattr(point, name, round(total / n, 4))
    return points


__all__ = [
    "MAX_POINTS",
    "HistoryPoint",
    "metrics_history",
    "prune",
    "validate_range",
    "write_snapshot",
]
