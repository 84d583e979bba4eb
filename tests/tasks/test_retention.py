"""Retention pruning: by age and by row cap, in small batches, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from src.db.session import Database
from src.system.config import ConfigStore, declared_keys
from src.task_store.retention import RETENTION_DAYS, RETENTION_MAX_ROWS, TaskRetention
from tests.support.servers import temporary_database
from tests.tasks.data import BASE, insert_rows, rows


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(database)
    yield built
    await built.dispose()


async def ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        stmt = select(TaskRecord.task_id).order_by(TaskRecord.seen_at, TaskRecord.task_id)
        return list((await conn.scalars(stmt)).all())


def test_keys_are_declared_with_defaults() -> None:
    keys = declared_keys()
    assert keys[RETENTION_DAYS.name].default == 30
    assert keys[RETENTION_MAX_ROWS.name].default == 5_000_000


async def test_prunes_by_age_in_batches(engine: AsyncEngine) -> None:
    now = BASE + timedelta(days=40)
    old = rows(10, base=BASE, prefix="old")  # 40 days before `now`
    recent = rows(7, base=BASE + timedelta(days=30), prefix="new")
    await insert_rows(engine, old + recent)
    config = ConfigStore(Database(engine))
    await config.set(RETENTION_DAYS.name, 30, actor="test")
    await config.set(RETENTION_MAX_ROWS.name, 0, actor="test")
    retention = TaskRetention(Database(engine), config, batch_size=3, batch_pause=0)
    assert await retention.prune_once(now=now) == 10
    assert await ids(engine) == sorted(r["task_id"] for r in recent)
    assert await retention.prune_once(now=now) == 0  # nothing left to prune


async def test_prunes_oldest_beyond_the_row_cap(engine: AsyncEngine) -> None:
    data = rows(20, base=BASE, prefix="c")  # three rows share each seen_at: the cap splits ties
    await insert_rows(engine, data)
    config = ConfigStore(Database(engine))
    await config.set(RETENTION_DAYS.name, 0, actor="test")
    await config.set(RETENTION_MAX_ROWS.name, 8, actor="test")
    retention = TaskRetention(Database(engine), config, batch_size=5, batch_pause=0)
    assert await retention.prune_once(now=BASE + timedelta(days=3650)) == 12
    newest = sorted(data, key=lambda r: (r["seen_at"], r["task_id"]))[-8:]
    assert await ids(engine) == [r["task_id"] for r in newest]
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(TaskRecord))).scalar() == 8


async def test_zero_means_keep_everything(engine: AsyncEngine) -> None:
    await insert_rows(engine, rows(6, base=BASE - timedelta(days=3000), prefix="k"))
    config = ConfigStore(Database(engine))
    await config.set(RETENTION_DAYS.name, 0, actor="test")
    await config.set(RETENTION_MAX_ROWS.name, 0, actor="test")
    assert await TaskRetention(Database(engine), config).prune_once() == 0
    assert len(await ids(engine)) == 6


async def test_background_loop_prunes_until_cancelled(engine: AsyncEngine) -> None:
    await insert_rows(engine, rows(9, base=BASE - timedelta(days=400), prefix="bg"))
    config = ConfigStore(Database(engine))
    await config.set(RETENTION_DAYS.name, 30, actor="test")
    retention = TaskRetention(
        Database(engine), config, batch_size=2, batch_pause=0, interval=0.05, first_delay=0
    )
    loop = asyncio.create_task(retention.run())
    try:
        deadline = time.monotonic() + 60
        while await ids(engine):
            assert time.monotonic() < deadline, "the loop did not prune"
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert loop.cancelled()
