"""Task aggregates from celery_task_results_ext: recent throughput and runtime percentiles for each
sample, and the all-time totals behind the Prometheus counters.

Every query is bounded: the recent window uses the `finished_at` index and runtimes are read at most
`MAX_RUNTIMES` at a time; totals are grouped aggregates (one row per queue and state) computed by
the leader every `monitoring.totals_interval_seconds`, never per scrape.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.db.models import TaskRecord
from src.monitoring.sample import RuntimeStats, TaskTotals, Throughput

MAX_RUNTIMES = 5000
UNKNOWN_QUEUE = "unknown"
# Prometheus histogram buckets for celery_task_duration_seconds (seconds).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return sorted_values[low]
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def runtime_stats(values: list[float]) -> RuntimeStats:
    ordered = sorted(values)
    return RuntimeStats(
        count=len(ordered),
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1] if ordered else None,
    )


async def recent_throughput(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, window_seconds: float
) -> Throughput:
    since = now - timedelta(seconds=window_seconds)
    async with sessions() as session:
        counts = await session.execute(
            select(TaskRecord.queue, TaskRecord.state, func.count())
            .where(TaskRecord.finished_at >= since, TaskRecord.finished_at <= now)
            .group_by(TaskRecord.queue, TaskRecord.state)
        )
        runtimes = await session.execute(
            select(TaskRecord.queue, TaskRecord.runtime)
            .where(
                TaskRecord.finished_at >= since,
                TaskRecord.finished_at <= now,
                TaskRecord.runtime.is_not(None),
            )
            .order_by(TaskRecord.finished_at.desc())
            .limit(MAX_RUNTIMES)
        )
        by_queue: dict[str, dict[str, int]] = defaultdict(dict)
        by_state: dict[str, int] = defaultdict(int)
        for queue, state, count in counts:
            by_queue[queue or UNKNOWN_QUEUE][state] = int(count)
            by_state[state] += int(count)
        all_runtimes: list[float] = []
        per_queue: dict[str, list[float]] = defaultdict(list)
        for queue, runtime in runtimes:
            if runtime is None:
                continue
            all_runtimes.append(float(runtime))
            per_queue[queue or UNKNOWN_QUEUE].append(float(runtime))
    minutes = window_seconds / 60.0
    return Throughput(
        window_seconds=window_seconds,
        by_state=dict(by_state),
        by_queue=dict(by_queue),
        succeeded_per_minute=round(by_state.get("SUCCESS", 0) / minutes, 4),
        failed_per_minute=round(by_state.get("FAILURE", 0) / minutes, 4),
        runtime=runtime_stats(all_runtimes),
        runtime_by_queue={q: runtime_stats(v) for q, v in per_queue.items()},
    )


async def task_totals(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> TaskTotals:
    """All-time counts per queue and state, and a runtime histogram per queue (grouped in SQL)."""
    bucket_columns = [
        func.sum(case((TaskRecord.runtime <= bound, 1), else_=0)) for bound in DURATION_BUCKETS
    ]
    async with sessions() as session:
        counts = await session.execute(
            select(TaskRecord.queue, TaskRecord.state, func.count()).group_by(
                TaskRecord.queue, TaskRecord.state
            )
        )
        by_queue_state: dict[str, dict[str, int]] = defaultdict(dict)
        for queue, state, count in counts:
            by_queue_state[queue or UNKNOWN_QUEUE][state] = int(count)
        histogram_rows = await session.execute(
            select(
                TaskRecord.queue,
                func.count(TaskRecord.runtime),
                func.coalesce(func.sum(TaskRecord.runtime), 0.0),
                *bucket_columns,
            )
            .where(TaskRecord.runtime.is_not(None))
            .group_by(TaskRecord.queue)
        )
        histogram: dict[str, list[int]] = {}
        runtime_count: dict[str, int] = {}
        runtime_sum: dict[str, float] = {}
        for row in histogram_rows:
            queue = row[0] or UNKNOWN_QUEUE
            runtime_count[queue] = int(row[1])
            runtime_sum[queue] = float(row[2])
            histogram[queue] = [int(v or 0) for v in row[3:]]
    return TaskTotals(
        computed_at=now,
        by_queue_state=dict(by_queue_state),
        buckets=list(DURATION_BUCKETS),
        histogram=histogram,
        runtime_count=runtime_count,
        runtime_sum=runtime_sum,
    )


async def recent_failures(sessions: async_sessionmaker[AsyncSession], *, since: datetime) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(TaskRecord)
            .where(TaskRecord.state == "FAILURE", TaskRecord.finished_at >= since)
        )
    return int(count or 0)


__all__ = [
    "DURATION_BUCKETS",
    "UNKNOWN_QUEUE",
    "percentile",
    "recent_failures",
    "recent_throughput",
    "runtime_stats",
    "task_totals",
]
