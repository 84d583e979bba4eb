"""Restarting the collector mid-stream: what was stored stays as it was, nothing is duplicated,
and tasks that finished while no collector listened are recovered from the result backend."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

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


def collector(
    engine: AsyncEngine, broker_url: str, results: aioredis.Redis, events_queue: str
) -> Collector:
    """On RabbitMQ with an event queue of its own: the session API's collector consumes the
    default one, and two consumers of one queue would split the events between them."""
    return Collector(
        engine=engine,
        broker_url=broker_url,
        result_redis=results,
        flush_interval=0.2,
        reader_options={"queue": events_queue, "max_length": 10_000}
        if broker_url.startswith("amqp")
        else None,
    )


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_restart_mid_stream_loses_and_duplicates_nothing(
    redis_server: EmbeddedRedis,
    broker_url: str,
    broker_kind: str,
    workers: list[WorkerProcess],
    celery_client,  # type: ignore[no-untyped-def]
    engine: AsyncEngine,
) -> None:
    results = aioredis.Redis.from_url(f"{redis_server.url}/1")
    events_queue = f"celery-admin.events.restart-{uuid.uuid4().hex[:6]}"
    first = collector(engine, broker_url, results, events_queue)
    running = asyncio.create_task(first.run())
    try:
        assert await wait_for(lambda: first.reader and first.reader.connected.is_set(), 10)
        before = [
            celery_client.send_task("src.tasks.demo.add", args=[i, i], queue="ai_analysis").id
            for i in range(15)
        ]
        # A prefork worker may send a fast task's task-started after its task-succeeded: wait
        # until every row has both, so the snapshot below is the whole story of each task.
        stored = await wait_rows(
            engine,
            before,
            lambda r: (
                set(states(r).values()) == {"SUCCESS"}
                and len(r) == 15
                and all(row.started_at is not None for row in r.values())
            ),
        )
        assert set(states(stored).values()) == {"SUCCESS"} and len(stored) == 15
    finally:
        await stop(running)

    # While no collector listens, more tasks run: on Redis (pub/sub) their events are gone for
    # good; on RabbitMQ they wait in the collector's durable queue.
    during = [
        celery_client.send_task("src.tasks.demo.add", args=[i, 1], queue="ai_analysis")
        for i in range(10)
    ]
    assert [r.get(timeout=20) for r in during] == [i + 1 for i in range(10)]

    second = collector(engine, broker_url, results, events_queue)
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
            if broker_kind == "amqp":  # the events themselves were kept, not only the result
                assert row.received_at is not None and row.started_at is not None
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
        rows = await wait_rows(engine, [task.id], lambda r: task.id in r, within=30)
        row = rows[task.id]
        assert row.state == "STARTED" and row.name == "src.tasks.demo.analyze_slow"
        assert row.worker in {w.hostname for w in workers} and row.started_at is not None
        assert row.queue == "maintenance"
    finally:
        inspector.close()


async def test_a_new_term_starts_once_the_previous_reader_stopped(
    redis_server: EmbeddedRedis, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease lost and retaken at once (a starved loop missed its renewals) runs the collector
    again while the previous run is still stopping. Its reader must be gone before the next one
    starts: two readers, and the old term's cleanup consuming the new intake, interleaved chunks
    through one frame decoder (malformed frames, events lost). The old reader's stop is held
    here until the next term has had its chance to start."""
    from src.collector import collector as module

    readers: list[Any] = []
    stopped: set[int] = set()  # ids of readers whose stop has returned
    overlaps: list[str] = []
    release = threading.Event()
    real_reader_for = module.reader_for

    def traced_reader_for(*args: Any, **kwargs: Any) -> Any:
        reader = real_reader_for(*args, **kwargs)
        start, stop = reader.start, reader.stop

        def traced_start() -> None:
            if any(id(r) not in stopped for r in readers):
                overlaps.append("a reader started while an earlier one was still running")
            readers.append(reader)
            start()

        def held_stop(timeout: float = 5.0) -> None:
            release.wait(30)
            stop(timeout)
            stopped.add(id(reader))

        vars(reader).update(start=traced_start, stop=held_stop)  # this instance only
        return reader

    monkeypatch.setattr(module, "reader_for", traced_reader_for)
    subject = Collector(engine=engine, broker_url=f"{redis_server.url}/0", flush_interval=0.2)
    first = asyncio.create_task(subject.run())
    second: asyncio.Task[None] | None = None
    try:
        assert await wait_for(lambda: bool(readers) and readers[0].connected.is_set(), 30)
        first.cancel()  # the term ends; its reader's stop is held
        second = asyncio.create_task(subject.run())  # the next term, at once
        for _ in range(50):  # many turns of the loop: the next term would have started by now
            await asyncio.sleep(0)
        assert len(readers) == 1
        release.set()
        assert await wait_for(lambda: len(readers) == 2 and readers[1].connected.is_set(), 30)
        assert first.done() and overlaps == []
    finally:
        release.set()
        first.cancel()
        if second is not None:
            await stop(second)
        await asyncio.gather(first, return_exceptions=True)
