"""Worker tracking from heartbeats: registry in Redis, OFFLINE after the heartbeat timeout, the
tasks a vanished worker was running marked LOST, and the workers query reading it all."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.workers_registry import read_workers
from src.db.engine import create_engine
from src.embedded_redis import EmbeddedRedis
from tests.collector.support import states, wait_rows
from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess

OFFLINE_QUERY = "{ workers(status: OFFLINE) { hostname online status lastHeartbeat } }"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def registry_until(api: ApiServer, predicate, within: float = 90.0):  # type: ignore[no-untyped-def]
    """Poll the registry with our own client (the app's belongs to the app's event loop)."""
    client = aioredis.Redis.from_url(str(api.settings.pubsub_redis_url))
    deadline = time.monotonic() + within
    try:
        while True:
            records = await read_workers(client)
            if predicate(records) or time.monotonic() > deadline:
                return records
            await asyncio.sleep(0.2)
    finally:
        await client.aclose()


async def test_heartbeats_fill_the_registry(api: ApiServer, workers: list[WorkerProcess]) -> None:
    names = {w.hostname for w in workers}
    records = await registry_until(
        api, lambda r: all(n in r and r[n].online and r[n].last_heartbeat for n in names)
    )
    for name in names:
        record = records[name]
        assert record.online and record.freq == 2.0
        assert record.sw_ident == "py-celery" and record.sw_ver
        assert record.loadavg is not None and len(record.loadavg) == 3


async def test_killed_worker_goes_offline_and_its_task_is_lost(
    api: ApiServer,
    redis_server: EmbeddedRedis,
    celery_client,  # type: ignore[no-untyped-def]
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    viewer_token: str,
) -> None:
    hostname = f"doomed-{uuid.uuid4().hex[:6]}@tests"
    queue = f"doomed_{uuid.uuid4().hex[:6]}"
    worker = WorkerProcess(redis_server, hostname, queues=queue, concurrency=1)
    try:
        worker.wait_ready(celery_client)
        await registry_until(api, lambda r: hostname in r and r[hostname].online)
        task = celery_client.send_task("src.tasks.demo.analyze_slow", args=[20], queue=queue)
        rows = await wait_rows(engine, [task.id], lambda r: states(r).get(task.id) == "STARTED")
        assert states(rows) == {task.id: "STARTED"}

        worker.process.send_signal(signal.SIGKILL)  # no worker-offline event: heartbeats stop
        worker.process.wait(10)

        records = await registry_until(api, lambda r: not r[hostname].online, within=60)
        assert records[hostname].online is False
        rows = await wait_rows(
            engine, [task.id], lambda r: states(r).get(task.id) == "LOST", within=60
        )
        assert states(rows) == {task.id: "LOST"} and rows[task.id].worker == hostname

        data = (await gql(http, api.graphql_url, OFFLINE_QUERY, token=viewer_token)).ok()
        gone = {w["hostname"]: w for w in data["workers"]}
        assert gone[hostname]["status"] == "OFFLINE" and gone[hostname]["online"] is False
        assert gone[hostname]["lastHeartbeat"] is not None
    finally:
        worker.stop()
