"""taskStats figures checked against the inserted rows, on PostgreSQL and SQLite."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from src.errors import BadInput
from src.task_filter import TaskFilter, TaskState
from src.task_store.stats import percentile, task_stats
from tests.tasks.conftest import Loaded
from tests.tasks.data import BASE


def _in_window(r: dict[str, Any], since: Any, until: Any) -> bool:
    return bool(since <= r["seen_at"] <= until)


@pytest.mark.parametrize(
    ("f", "now", "window"),
    [
        (TaskFilter(), BASE + timedelta(hours=1), timedelta(hours=1)),
        (TaskFilter(), BASE + timedelta(seconds=300), timedelta(seconds=200)),
        (
            TaskFilter(names=("app.add", "app.mul"), states=(TaskState.SUCCESS, TaskState.FAILURE)),
            BASE + timedelta(minutes=10),
            timedelta(minutes=30),
        ),
    ],
    ids=["all", "part-of-window", "filtered"],
)
async def test_stats_match_the_rows(
    loaded: Loaded, f: TaskFilter, now: Any, window: timedelta
) -> None:
    since = now - window
    chosen = [r for r in loaded.rows if f.matches(r) and _in_window(r, since, now)]
    assert 0 < len(chosen) < len(loaded.rows) or f == TaskFilter()
    stats = await task_stats(loaded.store, f, window, now=now)

    assert stats.total == len(chosen)
    assert {c.key: c.count for c in stats.by_state} == Counter(r["state"] for r in chosen)
    assert {c.key: c.count for c in stats.by_name} == Counter(r["name"] for r in chosen)
    assert {c.key: c.count for c in stats.by_exception} == Counter(
        r["exception"].split("(")[0] for r in chosen if r["exception"]
    )
    finished = [r for r in chosen if r["finished_at"] and since <= r["finished_at"] <= now]
    assert stats.finished == len(finished)
    assert stats.throughput_per_minute == pytest.approx(
        len(finished) / (window.total_seconds() / 60)
    )
    per_minute = Counter(int(r["finished_at"].timestamp()) // 60 for r in finished)
    assert {int(p.minute.timestamp()) // 60: p.finished for p in stats.throughput} == per_minute

    runtimes = sorted(r["runtime"] for r in chosen if r["runtime"] is not None)
    assert stats.runtime_samples == len(runtimes)
    cuts = statistics.quantiles(runtimes, n=100, method="inclusive")
    assert stats.runtime_p50 == pytest.approx(cuts[49])
    assert stats.runtime_p90 == pytest.approx(cuts[89])
    assert stats.runtime_p99 == pytest.approx(cuts[98])


async def test_stats_of_nothing(loaded: Loaded) -> None:
    stats = await task_stats(loaded.store, TaskFilter(names=("nothing",)), timedelta(minutes=5))
    assert stats.total == 0 and stats.by_state == [] and stats.throughput == []
    assert stats.runtime_samples == 0 and stats.runtime_p50 is None


async def test_window_limits(loaded: Loaded) -> None:
    with pytest.raises(BadInput):
        await task_stats(loaded.store, TaskFilter(), timedelta(days=32))
    with pytest.raises(BadInput):
        await task_stats(loaded.store, TaskFilter(), timedelta(seconds=-1))


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.99) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
