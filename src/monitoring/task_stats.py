"""Task aggregates: recent throughput and runtime percentiles for each sample (from
celery_task_results_ext), and the all-time totals behind the Prometheus counters (from the totals
tables that triggers keep, src/db/models/task_totals.py, so they never go down when retention
prunes task rows).

Every query is bounded: the recent window uses the `finished_at` index and runtimes are read at most
`MAX_RUNTIMES` at a time; the totals tables hold one row per queue, task name and state (or
runtime bucket), read by the leader every `monitoring.totals_interval_seconds`, never per scrape.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select

from src.access_scope import AccessScope
from src.db.models import TaskRecord, TaskRuntimeTotal, TaskTotal
from src.db.session import Database
from src.monitoring.sample import NameTotals, RuntimeStats, TaskTotals, Throughput
from src.task_filter import TaskFilter
from src.task_store.filters import filter_clauses
from src.task_store.stats import percentile

MAX_RUNTIMES = 5000
UNKNOWN_QUEUE = "unknown"
# Prometheus histogram buckets for celery_task_duration_seconds (seconds). Migration 0002 buckets
# runtimes in SQL with the same bounds: change both together (a test compares them).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


def runtime_stats(values: list[float]) -> RuntimeStats:
    ordered = sorted(values)
    return RuntimeStats(
        count=len(ordered),
        p50=percentile(ordered, 0.50),
        p90=percentile(ordered, 0.90),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
        max=ordered[-1] if ordered else None,
    )


async def recent_throughput(db: Database, *, now: datetime, window_seconds: float) -> Throughput:
    since = now - timedelta(seconds=window_seconds)
    async with db.session("throughput") as session:
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


SEEN = "SEEN"  # the totals' pseudo-state: a task row was created


async def task_totals(db: Database, *, now: datetime) -> TaskTotals:
    """All-time counters from celery_task_totals and celery_task_runtime_totals: small tables
    (one row per queue, task name and state or bucket) kept by triggers, never pruned."""
    async with db.session("task totals", seconds=30.0) as session:
        counts = (
            await session.execute(
                select(TaskTotal.queue, TaskTotal.name, TaskTotal.state, TaskTotal.tasks)
            )
        ).all()
        runtimes = (
            await session.execute(
                select(
                    TaskRuntimeTotal.queue,
                    TaskRuntimeTotal.name,
                    TaskRuntimeTotal.bucket,
                    TaskRuntimeTotal.tasks,
                    TaskRuntimeTotal.runtime_sum,
                )
            )
        ).all()
    names: dict[tuple[str, str], NameTotals] = {}

    def of(queue: str, name: str) -> NameTotals:
        found = names.get((queue, name))
        if found is None:
            found = names[(queue, name)] = NameTotals(
                queue=queue, name=name, histogram=[0] * len(DURATION_BUCKETS)
            )
        return found

    by_queue_state: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for queue, name, state, tasks in counts:
        of(queue, name).states[state] = int(tasks)
        if state != SEEN:
            by_queue_state[queue][state] += int(tasks)
    for queue, name, bucket, tasks, seconds in runtimes:
        totals = of(queue, name)
        totals.runtime_count += int(tasks)
        totals.runtime_sum += float(seconds)
        for i in range(min(int(bucket), len(DURATION_BUCKETS)), len(DURATION_BUCKETS)):
            totals.histogram[i] += int(tasks)  # cumulative: every bound at or above its bucket
    histogram: dict[str, list[int]] = {}
    runtime_count: dict[str, int] = defaultdict(int)
    runtime_sum: dict[str, float] = defaultdict(float)
    for per_name in names.values():
        if not per_name.runtime_count:
            continue
        current = histogram.setdefault(per_name.queue, [0] * len(DURATION_BUCKETS))
        histogram[per_name.queue] = [
            a + b for a, b in zip(current, per_name.histogram, strict=True)
        ]
        runtime_count[per_name.queue] += per_name.runtime_count
        runtime_sum[per_name.queue] += per_name.runtime_sum
    return TaskTotals(
        computed_at=now,
        by_queue_state={q: dict(states) for q, states in by_queue_state.items()},
        buckets=list(DURATION_BUCKETS),
        histogram=histogram,
        runtime_count=dict(runtime_count),
        runtime_sum=dict(runtime_sum),
        by_name=sorted(names.values(), key=lambda t: (t.queue, t.name)),
    )


async def recent_failures(
    db: Database, *, since: datetime, scope: AccessScope | None = None
) -> int:
    """Tasks failed since `since` (only those in a scoped caller's `scope`)."""
    limit = filter_clauses(TaskFilter(scope=scope), db.dialect) if scope is not None else []
    async with db.session("recent failures") as session:
        count = await session.scalar(
            select(func.count())
            .select_from(TaskRecord)
            .where(TaskRecord.state == "FAILURE", TaskRecord.finished_at >= since, *limit)
        )
    return int(count or 0)


__all__ = [
    "DURATION_BUCKETS",
    "SEEN",
    "UNKNOWN_QUEUE",
    "recent_failures",
    "recent_throughput",
    "runtime_stats",
    "task_totals",
]
