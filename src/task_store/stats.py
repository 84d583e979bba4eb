"""Task statistics over a recent window: counts by state, name and exception type, throughput
per minute and runtime percentiles.

The window bounds the rows by `seen_at` (an index range), group lists are capped, and every
statement runs under a time limit. Percentiles are `percentile_cont` on PostgreSQL; SQLite has no
such aggregate, so they are computed in Python over at most `SQLITE_SAMPLE` of the newest runtimes
(exact below that), with the same linear interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal_column, select

from src.db.models.base import utcnow
from src.db.models.tasks import TaskRecord
from src.errors import BadInput
from src.task_filter import TaskFilter
from src.task_store.query import TaskStore

T = TaskRecord

DEFAULT_WINDOW = timedelta(hours=1)
MAX_WINDOW = timedelta(days=31)
MAX_GROUPS = 50
MAX_SERIES_POINTS = 1440
SQLITE_SAMPLE = 10_000
STATS_SECONDS = 5.0
PERCENTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Count:
    key: str | None
    count: int


@dataclass(frozen=True, slots=True)
class ThroughputPoint:
    minute: datetime
    finished: int


@dataclass(frozen=True, slots=True)
class TaskStats:
    since: datetime
    until: datetime
    total: int
    by_state: list[Count]
    by_name: list[Count]
    by_exception: list[Count]
    finished: int
    throughput_per_minute: float
    throughput: list[ThroughputPoint]  # minutes with finished tasks, the latest MAX_SERIES_POINTS
    runtime_samples: int
    runtime_p50: float | None
    runtime_p90: float | None
    runtime_p99: float | None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The `q` quantile (0..1) of already sorted values: linear interpolation between closest
    ranks, as PostgreSQL's percentile_cont. The one percentile of the project (task stats, and
    the sampler's runtime figures)."""
    if not sorted_values:
        return None
    position = q * (len(sorted_values) - 1)
    low, high = math.floor(position), math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def check_window(window: timedelta | None) -> timedelta:
    window = window or DEFAULT_WINDOW
    if window <= timedelta(0) or window > MAX_WINDOW:
        raise BadInput(f"window: between 1 second and {MAX_WINDOW.days} days", field="window")
    return window


def _exception_type(dialect: str) -> ColumnElement[Any]:
    """`ValueError('boom')` -> `ValueError` (the text before the first parenthesis)."""
    if dialect == "postgresql":
        return func.split_part(T.exception, "(", 1)
    return func.substr(T.exception, 1, func.instr(T.exception + "(", "(") - 1)


def _minute_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """Minutes since the epoch, as an integer."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 60), Integer)
    return cast(func.strftime("%s", column), Integer) // 60


async def task_stats(
    store: TaskStore, f: TaskFilter, window: timedelta | None = None, *, now: datetime | None = None
) -> TaskStats:
    window = check_window(window)
    until = now or utcnow()
    since = until - window
    dialect = store.dialect
    where = [*store.where(f), T.seen_at >= since, T.seen_at <= until]

    async def grouped(session: Any, key: Any, *extra: Any) -> list[Count]:
        n = func.count().label("n")
        stmt = (
            select(key.label("k"), n)
            .where(*where, *extra)
            .group_by(key)
            .order_by(n.desc(), key)
            .limit(MAX_GROUPS)
        )
        return [Count(k, int(c)) for k, c in (await session.execute(stmt)).all()]

    async with store.db.session("taskStats", seconds=STATS_SECONDS) as session:
        by_state = await grouped(session, T.state)
        by_name = await grouped(session, T.name)
        by_exception = await grouped(session, _exception_type(dialect), T.exception.is_not(None))
        minute = _minute_of(T.finished_at, dialect).label("minute")
        finished_in_window = and_(T.finished_at >= since, T.finished_at <= until)
        series_stmt = (
            select(minute, func.count())
            .where(*where, finished_in_window)
            .group_by(minute)
            .order_by(minute.desc())
            .limit(MAX_SERIES_POINTS)
        )
        series = [
            ThroughputPoint(datetime.fromtimestamp(int(m) * 60, tz=UTC), int(c))
            for m, c in reversed((await session.execute(series_stmt)).all())
        ]
        # One pass for the totals (and, on PostgreSQL, the percentiles).
        figures: list[Any] = [
            func.count(),
            func.count().filter(finished_in_window),
            func.count(T.runtime),
        ]
        if dialect == "postgresql":
            figures += [
                func.percentile_cont(literal_column(repr(q))).within_group(T.runtime)
                for q in PERCENTILES
            ]
        row = (await session.execute(select(*figures).where(*where))).one()
        total, finished, samples = int(row[0]), int(row[1]), int(row[2])
        if dialect == "postgresql":
            p50, p90, p99 = (None if v is None else float(v) for v in row[3:])
        else:
            stmt_rt = (
                select(T.runtime)
                .where(*where, T.runtime.is_not(None))
                .order_by(T.seen_at.desc())
                .limit(SQLITE_SAMPLE)
            )
            values = sorted(
                float(v) for v in (await session.scalars(stmt_rt)).all() if v is not None
            )
            samples = len(values)  # at most SQLITE_SAMPLE
            p50, p90, p99 = (percentile(values, q) for q in PERCENTILES)
    minutes = window.total_seconds() / 60
    return TaskStats(
        since=since,
        until=until,
        total=total,
        by_state=by_state,
        by_name=by_name,
        by_exception=by_exception,
        finished=finished,
        throughput_per_minute=finished / minutes,
        throughput=series,
        runtime_samples=samples,
        runtime_p50=p50,
        runtime_p90=p90,
        runtime_p99=p99,
    )


__all__ = ["Count", "TaskStats", "ThroughputPoint", "check_window", "percentile", "task_stats"]
