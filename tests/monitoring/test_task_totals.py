"""All-time task counters: kept by triggers from whatever writes task rows (here the collector's own
merge and batched upsert), on PostgreSQL and SQLite alike; they never go down when retention
prunes task rows; per-task-name metrics are capped."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from src.collector.merge import TaskMerger
from src.collector.store import TaskStore
from src.db.models import TaskRecord
from src.db.session import Database
from src.monitoring.prometheus import _Snapshot
from src.monitoring.prometheus_names import OTHER, TaskNameMetrics
from src.monitoring.sample import NameTotals, TaskTotals
from src.monitoring.task_stats import DURATION_BUCKETS, task_totals
from src.system.config import ConfigStore
from src.task_store.retention import RETENTION_DAYS, TaskRetention
from tests.collector.events import lifecycle, task_event
from tests.support.servers import ROOT, temporary_database

DAY = 86400.0


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def own_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with temporary_database(request.param, Path(tmp_path_factory.mktemp("totals"))) as url:
        yield url


def merged(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merger = TaskMerger()
    for event in events:
        merger.apply(dict(event))
    return merger.drain()


def families(
    totals: TaskTotals, *, max_pairs: int = 100
) -> dict[str, dict[tuple[Any, ...], float]]:
    """What /metrics serves for these totals: sample name -> labels -> value."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(None, totals, {}, max_queues=50, max_workers=100))
    registry.register(TaskNameMetrics(totals, max_pairs))
    found: dict[str, dict[tuple[Any, ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_the_migration_buckets_runtimes_as_the_exposition_does() -> None:
    path = ROOT / "alembic" / "versions" / "0002_alerting.py"
    spec = importlib.util.spec_from_file_location("migration_0002", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.BUCKETS == DURATION_BUCKETS


async def test_counters_follow_the_collectors_writes(own_database: str) -> None:
    db = Database.from_url(own_database)
    store = TaskStore(db.engine)
    queue, t0 = f"q-{uuid.uuid4().hex[:6]}", 1_700_000_000.0
    try:
        names = ("ok", "bad", "re", "lost", "exact")
        ok, failed, retried, lost, exact = (f"{n}-{uuid.uuid4().hex[:6]}" for n in names)
        ok_events = [
            dict(e, queue=queue) if e["type"] == "task-sent" else e for e in lifecycle(ok, t0)
        ]
        # Written as the collector does: part first (running), then the rest, then a replay.
        await store.upsert(merged(ok_events[:3]))
        await store.upsert(merged(ok_events[3:]))
        await store.upsert(merged(ok_events))
        await store.upsert(merged([
            task_event("sent", failed, t0, name="proj.add", queue=queue, retries=0),
            task_event("received", failed, t0 + 1, name="proj.add", retries=2),
            task_event("failed", failed, t0 + 2, exception="ValueError()"),
            task_event("sent", exact, t0, name="proj.add", queue=queue, retries=0),
            task_event("succeeded", exact, t0 + 1, runtime=0.05),
        ]))  # fmt: skip
        for attempt, kind in ((0, "received"), (1, "retried"), (1, "received")):
            await store.upsert(merged([
                task_event("sent", retried, t0, name="proj.mul", queue=queue, retries=0),
                task_event(kind, retried, t0 + 1 + attempt, name="proj.mul", retries=attempt),
            ]))  # fmt: skip
        await store.upsert(merged([task_event("succeeded", retried, t0 + 9, runtime=900.0)]))
        await store.upsert(merged([
            task_event("sent", lost, t0, name="proj.add", queue=queue),
            task_event("started", lost, t0 + 1, hostname="gone@host"),
        ]))  # fmt: skip
        assert await store.mark_lost("gone@host", t0 + 100) == [lost]

        totals = await task_totals(db, now=datetime.now(UTC))
        assert totals.by_queue_state[queue] == {"SUCCESS": 3, "FAILURE": 1, "RETRY": 3, "LOST": 1}
        by_name = {t.name: t for t in totals.by_name if t.queue == queue}
        assert by_name["proj.add"].states == {"SEEN": 4, "SUCCESS": 2, "FAILURE": 1, "RETRY": 2,
                                              "LOST": 1}  # fmt: skip
        assert by_name["proj.mul"].states == {"SEEN": 1, "SUCCESS": 1, "RETRY": 1}
        # Runtimes: 0.9 and 0.05 (on a bound) for proj.add; 900.0 (the last bound) for proj.mul.
        add = by_name["proj.add"]
        assert add.runtime_count == 2 and add.runtime_sum == pytest.approx(0.95)
        assert add.histogram[DURATION_BUCKETS.index(0.05)] == 1  # le is inclusive
        assert add.histogram[DURATION_BUCKETS.index(1.0)] == 2
        assert by_name["proj.mul"].histogram[-1] == 1 and by_name["proj.mul"].histogram[-2] == 0

        served = families(totals)
        assert served["celery_tasks_total"][(("queue", queue), ("status", "SUCCESS"))] == 3
        assert served["celery_task_retried_total"][(("name", "proj.add"), ("queue", queue))] == 2
        assert served["celery_task_received_total"][(("name", "proj.add"), ("queue", queue))] == 4
        assert served["celery_task_lost_total"][(("name", "proj.add"), ("queue", queue))] == 1
        buckets = served["celery_task_runtime_seconds_bucket"]
        assert buckets[(("le", "0.05"), ("name", "proj.add"), ("queue", queue))] == 1
        assert buckets[(("le", "+Inf"), ("name", "proj.mul"), ("queue", queue))] == 1
        assert served["celery_task_duration_seconds_count"][(("queue", queue),)] == 3  # 3 runtimes
    finally:
        await db.dispose()


async def test_counters_never_go_down_when_retention_prunes(own_database: str) -> None:
    db = Database.from_url(own_database)
    store, config = TaskStore(db.engine), ConfigStore(db)
    queue = f"pruned-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).timestamp()
    try:
        events = []
        for i in range(30):
            seen = now - 40 * DAY if i < 20 else now - 60.0  # 20 past the 30-day retention
            task_id = f"{queue}-{i}"
            events += [dict(e, queue=queue) if e["type"] == "task-sent" else e
                       for e in lifecycle(task_id, seen, fail=i % 3 == 0)]  # fmt: skip
        await store.upsert(merged(events))

        async def rows() -> int:
            async with db.session("test") as session:
                return int(
                    await session.scalar(
                        select(func.count())
                        .select_from(TaskRecord)
                        .where(TaskRecord.queue == queue)
                    )
                    or 0
                )

        before = families(await task_totals(db, now=datetime.now(UTC)))
        assert await rows() == 30
        await config.set(RETENTION_DAYS.name, 30, actor="test")
        pruned = await TaskRetention(db, config, batch_pause=0).prune_once()
        assert pruned >= 20 and await rows() == 10
        after = families(await task_totals(db, now=datetime.now(UTC)))

        counters = [n for n in before if n.endswith(("_total", "_count", "_sum", "_bucket"))]
        assert "celery_tasks_total" in counters and "celery_task_runtime_seconds_count" in counters
        for name in counters:
            for labels, value in before[name].items():
                assert after[name].get(labels, 0.0) >= value, (name, labels)
        success = (("queue", queue), ("status", "SUCCESS"))
        assert after["celery_tasks_total"][success] == before["celery_tasks_total"][success] == 20
    finally:
        await db.dispose()


def test_task_name_labels_are_capped_and_the_rest_folded() -> None:
    now = datetime.now(UTC)
    zeros = [0] * len(DURATION_BUCKETS)
    by_name = [
        NameTotals(queue="q", name=f"task{i}", states={"SEEN": 10 * i, "SUCCESS": 10 * i - 1},
                   histogram=[*zeros[:-1], i], runtime_count=i, runtime_sum=float(i))
        for i in range(1, 6)
    ]  # fmt: skip
    totals = TaskTotals(computed_at=now, buckets=list(DURATION_BUCKETS), by_name=by_name)
    served = families(totals, max_pairs=2)
    received = served["celery_task_received_total"]
    assert received == {
        (("name", "task5"), ("queue", "q")): 50,
        (("name", "task4"), ("queue", "q")): 40,
        (("name", OTHER), ("queue", OTHER)): 10 + 20 + 30,
    }
    assert served["celery_task_succeeded_total"][(("name", OTHER), ("queue", OTHER))] == 57
    count = served["celery_task_runtime_seconds_count"]
    assert count[(("name", OTHER), ("queue", OTHER))] == 1 + 2 + 3


async def test_the_postgresql_triggers_never_plan_a_nested_loop(database_url: str) -> None:
    """Under INSERT .. ON CONFLICT the planner may take a transition table for one row and join
    old and new rows in a nested loop: quadratic in the batch (bench/totals.py measured 4,000 rows
    going from 0.4 s to 9 s). The functions run with nested loops off."""
    if not database_url.startswith("postgresql"):
        pytest.skip("statement triggers are PostgreSQL's; SQLite's are per row")
    db = Database.from_url(database_url)
    try:
        async with db.session("test") as session:
            found = dict(
                (
                    await session.execute(
                        text(
                            "SELECT proname, proconfig FROM pg_proc "
                            "WHERE proname LIKE 'celery_task_totals_%'"
                        )
                    )
                ).all()
            )
    finally:
        await db.dispose()
    assert found == {
        "celery_task_totals_inserted": ["enable_nestloop=off"],
        "celery_task_totals_updated": ["enable_nestloop=off"],
    }
