"""The upsert's guard in the database itself: batches in any order give the same row."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.merge import TaskMerger
from src.collector.store import TaskStore
from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from tests.collector.events import lifecycle, task_event

T0 = 1_700_000_000.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def rows(events: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    merger = TaskMerger()
    for event in events:
        merger.apply(dict(event))
    return merger.drain()


async def fetch(engine: AsyncEngine, task_id: str) -> TaskRecord:
    async with engine.connect() as conn:
        result = await conn.execute(select(TaskRecord).where(TaskRecord.task_id == task_id))
        return result.one()  # type: ignore[return-value]


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset, UTC)


async def test_batches_in_any_order_store_the_same_row(engine: AsyncEngine) -> None:
    store = TaskStore(engine)
    results = []
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        task_id = f"store-{uuid.uuid4()}"
        events = lifecycle(task_id, T0)
        for index in order:
            await store.upsert(rows([events[index]]))
        await store.upsert(rows([events[1]]))  # a duplicate after the end
        row = await fetch(engine, task_id)
        assert row.state == "SUCCESS"
        assert (row.sent_at, row.received_at, row.started_at) == (at(0), at(1), at(2))
        assert row.succeeded_at == row.finished_at == at(3)
        assert (row.name, row.queue, row.worker, row.result) == (
            "proj.add",
            "ai_analysis",
            "w1@host",
            "42",
        )
        assert row.runtime == 0.9 and row.seen_at == at(0) and row.retries == 0
        results.append(tuple(getattr(row, c) for c in ("state", "runtime", "args", "kwargs")))
    assert len(set(results)) == 1


async def test_terminal_state_in_database_survives_late_events(engine: AsyncEngine) -> None:
    store = TaskStore(engine)
    task_id = f"store-{uuid.uuid4()}"
    await store.upsert(rows([task_event("failed", task_id, T0 + 5, exception="E()")]))
    await store.upsert(
        rows(
            [
                task_event("received", task_id, T0 + 1, name="n", retries=1),
                task_event("started", task_id, T0 + 2),
                task_event("retried", task_id, T0 + 3, exception="Retry()"),
            ]
        )
    )
    row = await fetch(engine, task_id)
    assert row.state == "FAILURE" and row.exception == "E()"
    assert row.name == "n" and row.retries == 1 and row.received_at == at(1)
    assert row.runtime is None  # no start time is known with the failure


async def test_started_tasks_of_a_vanished_worker_become_lost(engine: AsyncEngine) -> None:
    store = TaskStore(engine)
    worker = f"gone-{uuid.uuid4().hex[:6]}@host"
    running, done = f"lost-{uuid.uuid4()}", f"done-{uuid.uuid4()}"
    await store.upsert(
        rows(
            [
                task_event("started", running, T0, hostname=worker),
                *lifecycle(done, T0, worker=worker),
            ]
        )
    )
    assert await store.mark_lost(worker, T0 + 100) == [running]
    assert (await fetch(engine, running)).state == "LOST"
    assert (await fetch(engine, done)).state == "SUCCESS"
    await store.upsert(rows([task_event("succeeded", running, T0 + 200, hostname=worker)]))
    assert (await fetch(engine, running)).state == "SUCCESS"
