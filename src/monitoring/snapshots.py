"""Snapshots: a coarse, durable copy of the sample stream (celery_monitoring_snapshots), the
retention that prunes it, and `metrics_history`, which buckets it for charts.

History reads only the scalar columns (never the JSON sample) and lets the database bucket them,
so one row per point comes back, and `MAX_POINTS` caps the points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, delete, func, select

from src.db.models import AlertRecord, MonitoringSnapshot
from src.db.session import Database
from src.errors import BadInput
from src.monitoring.sample import MetricsSample

MAX_POINTS = 1000
MIN_STEP_SECONDS = 1
MAX_RANGE = timedelta(days=366)
MAX_SNAPSHOT_ITEMS = 50


def compact(sample: MetricsSample) -> dict[str, Any]:
    """What a snapshot keeps beyond its columns: the busiest queues and workers (bounded, so a row
    stays a few kilobytes whatever the cluster's size), states and host figures."""
    queues = sorted(sample.queues, key=lambda q: (-q.length, q.name))[:MAX_SNAPSHOT_ITEMS]
    workers = sorted(sample.workers, key=lambda w: (-w.active, w.hostname))[:MAX_SNAPSHOT_ITEMS]
    return {
        "queues": {q.name: [q.length, q.oldest_age_seconds] for q in queues},
        "queues_total": len(sample.queues),
        "workers": {w.hostname: w.active for w in workers},
        "by_state": sample.throughput.by_state,
        "runtime": sample.throughput.runtime.model_dump(mode="json"),
        "host": sample.host.model_dump(mode="json"),
        "errors": sample.errors[:10],
    }


async def write_snapshot(db: Database, sample: MetricsSample) -> None:
    async with db.session("snapshot") as session:
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
                data=compact(sample),
            )
        )


async def prune(db: Database, *, now: datetime, retention_days: float) -> int:
    """Delete snapshots and resolved alerts older than the retention; returns snapshots deleted."""
    cutoff = now - timedelta(days=retention_days)
    async with db.session("snapshot retention", seconds=60.0) as session:
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


def _epoch(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0  # SQLite


def _floor(value: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.floor(value)
    return cast(value, Integer)  # truncation: the value is never negative here


async def metrics_history(
    db: Database, start: datetime, end: datetime, step_seconds: int
) -> list[HistoryPoint]:
    """One point per `step` from `start` (inclusive) to `end` (exclusive); empty buckets have
    `samples == 0` and null values, so charts show the gap. Bucketed by the database (one row per
    bucket comes back), on the `taken_at` index."""
    count = validate_range(start, end, step_seconds)
    points = [HistoryPoint(at=start + timedelta(seconds=i * step_seconds)) for i in range(count)]
    S = MonitoringSnapshot
    dialect = db.dialect
    async with db.session("metrics history") as session:
        offset = _epoch(S.taken_at, dialect) - start.timestamp()
        bucket = _floor(offset / float(step_seconds), dialect).label("bucket")
        query = (
            select(
                bucket,
                func.count(),
                func.avg(S.workers_online),
                func.avg(S.tasks_active),
                func.avg(S.succeeded_per_min),
                func.avg(S.failed_per_min),
                func.avg(S.cpu_percent),
                func.avg(S.memory_percent),
                func.avg(S.runtime_p50),
                func.avg(S.runtime_p95),
                func.max(S.queued_total),
                func.max(S.max_wait_seconds),
            )
            .where(S.taken_at >= start, S.taken_at < end)
            .group_by(bucket)
        )
        rows = (await session.execute(query)).all()
    for row in rows:
        index = int(row[0])
        if not 0 <= index < count:
            continue
        point = points[index]
        point.samples = int(row[1])
        for name, value in zip(_AVERAGED, row[2:10], strict=True):
            setattr(point, name, None if value is None else round(float(value), 4))
        point.queued_total = None if row[10] is None else int(row[10])
        point.max_wait_seconds = None if row[11] is None else float(row[11])
    return points


__all__ = [
    "MAX_POINTS",
    "HistoryPoint",
    "compact",
    "metrics_history",
    "prune",
    "validate_range",
    "write_snapshot",
]
