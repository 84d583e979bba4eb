"""Redis goes away mid-stream and comes back on the same port: the served app's collector
reconnects on its own, records the gap, and collection resumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.gaps import read_gaps
from src.db.engine import create_engine
from src.embedded_redis import EmbeddedRedis
from tests.collector.support import states, wait_for, wait_rows
from tests.conftest import DB_KIND
from tests.support.servers import (
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    running_api,
    temporary_database,
)


@pytest.fixture(scope="module")
def outage_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(DB_KIND, Path(tmp_path_factory.mktemp("outagedb"))) as url:
        yield url


@pytest.fixture
async def engine(outage_db: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(outage_db)
    yield engine
    await engine.dispose()


def all_succeeded(count: int):  # type: ignore[no-untyped-def]
    return lambda rows: len(rows) == count and set(states(rows).values()) == {"SUCCESS"}


@pytest.mark.timeout(180)
async def test_collection_resumes_after_redis_restarts(outage_db: str, engine: AsyncEngine) -> None:
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    worker = WorkerProcess(redis, "outage@tests", concurrency=1)
    client = client_app(redis)
    settings = make_settings(redis, outage_db, leader_lease_seconds=3)
    try:
        await asyncio.to_thread(worker.wait_ready, client)
        with running_api(settings) as api:
            collector = api.runtime.collector
            assert await wait_for(lambda: collector.status()["connected"], 15)
            first = [
                client.send_task("src.tasks.demo.add", args=[i, 0], queue="health").id
                for i in range(5)
            ]
            rows = await wait_rows(engine, first, all_succeeded(5))
            assert set(states(rows).values()) == {"SUCCESS"} and len(rows) == 5

            redis.stop()
            assert await wait_for(lambda: not collector.status()["connected"], 10)
            await asyncio.sleep(1.0)  # a real outage, not a blip
            redis.start()

            await asyncio.to_thread(worker.wait_ready, client, 60)
            assert await wait_for(lambda: collector.status()["connected"], 30)
            second = [
                client.send_task("src.tasks.demo.add", args=[i, 9], queue="health").id
                for i in range(5)
            ]
            rows = await wait_rows(engine, second, all_succeeded(5), within=60)
            assert set(states(rows).values()) == {"SUCCESS"} and len(rows) == 5

            state = aioredis.Redis.from_url(f"{redis.url}/0")
            try:
                gaps: list[dict[str, float]] = []

                async def gap_recorded() -> bool:
                    gaps[:] = await read_gaps(state)
                    return bool(gaps)

                for _ in range(50):
                    if await gap_recorded():
                        break
                    await asyncio.sleep(0.1)
            finally:
                await state.aclose()
            assert gaps and gaps[0]["duration"] >= 1.0 and gaps[0]["end"] > gaps[0]["start"]
    finally:
        worker.stop()
        redis.stop()
