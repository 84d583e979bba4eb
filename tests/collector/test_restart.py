"""Restarting the collector mid-stream: what was stored stays as it was, nothing is duplicated,
and tasks that finished while no collector listened are recovered from the result backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.collector import Collector
from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from src.embedded_redis import EmbeddedRedis
from tests.collector.support import states, wait_for, wait_rows
from tests.conftest import DB_KIND
from tests.support.servers import WorkerProcess, temporary_database


@pytest.fixture(scope="module")
def own_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(DB_KIND, Path(tmp_path_factory.mktemp("restartdb"))) as url:
        yield url


@pytest.fixture
async def engine(own_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(own_database_url)
    yield engine
    await engine.dispose()


def collector(engine: AsyncEngine, redis: EmbeddedRedis, results: aioredis.Redis) -> Collector:
    return Collector(
        engine=engine, broker_url=f"{redis.url}/0", result_redis=results, flush_interval=0.2
    )


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_restart_mid_stream_loses_and_duplicates_nothing(
    redis_server: EmbeddedRedis,
    workers: list[WorkerProcess],
    celery_client,  # type: ignore[no-untyped-def]
    engine: AsyncEngine,
) -> None:
    results = aioredis.Redis.from_url(f"{redis_server.url}/1")
    first = collector(engine, redis_server, results)
    running = asyncio.create_task(first.run())
    try:
        assert await wait_for(lambda: first.reader and first.reader.connected.is_set(), 10)
        before = [
            celery_client.send_task("src.tasks.demo.add", args=[i, i], queue="ai_analysis").id
            for i in range(15)
        ]
        stored = await wait_rows(
            engine, before, lambda r: set(states(r).values()) == {"SUCCESS"} and len(r) == 15
        )
        assert set(states(stored).values()) == {"SUCCESS"} and len(stored) == 15
    finally:
        await stop(running)

    # While no collector listens, more tasks run: their events are gone for good.
    during = [
        celery_client.send_task("src.tasks.demo.add", args=[i, 1], queue="ai_analysis")
        for i in range(10)
    ]
    assert [r.get(timeout=20) for r in during] == [i + 1 for i in range(10)]

    second = collector(engine, redis_server, results)
    running = asyncio.create_task(second.run())
    try:
        after = [
            celery_client.send_task("src.tasks.demo.add", args=[i, 2], queue="ai_analysis").id
            for i in range(10)
        ]
        ids = before + [r.id for r in during] + after
        rows = await wait_rows(
            engine, ids, lambda r: len(r) == len(ids) and set(states(r).values()) == {"SUCCESS"}
        )
        assert len(rows) == len(ids) and set(states(rows).values()) == {"SUCCESS"}
        for task_id in before:  # stored rows are untouched by the restart and the reconcile
            old, new = stored[task_id], rows[task_id]
            for column in ("received_at", "started_at", "succeeded_at", "runtime", "worker"):
                assert getattr(new, column) == getattr(old, column), column
        for result in during:  # recovered from the result backend (extended results)
            row = rows[result.id]
            assert row.name == "src.tasks.demo.add" and row.result is not None
            assert row.worker in {w.hostname for w in workers} and row.finished_at is not None
        async with engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(TaskRecord).where(TaskRecord.task_id.in_(ids))
            )
        assert count == len(ids)
    finally:
        await stop(running)
        await results.aclose()


async def test_reconcile_finds_what_workers_hold_now(
    workers: list[WorkerProcess],
    celery_client,  # type: ignore[no-untyped-def]
    engine: AsyncEngine,
) -> None:
    from src.control.inspector import InspectKind, Inspector

    inspector = Inspector(celery_client, timeout=1.0, cache_ttl=0)
    task = celery_client.send_task("src.tasks.demo.analyze_slow", args=[4], queue="maintenance")
    try:
        for _ in range(100):
            active = await inspector.get(InspectKind.ACTIVE, max_age=0)
            if any(t.get("id") == task.id for ts in active.replies.values() for t in ts):
                break
            await asyncio.sleep(0.1)
        fresh = Collector(engine=engine, inspector=inspector)  # no events at all
        assert await fresh.reconcile() >= 1
        assert await fresh.flush()
        rows = await wait_rows(engine, [task.id], lambda r: task.id in r, within=5)
        row = rows[task.id]
        assert row.state == "STARTED" and row.name == "src.tasks.demo.analyze_slow"
        assert row.worker in {w.hostname for w in workers} and row.started_at is not None
        assert row.queue == "maintenance"
    finally:
        inspector.close()
