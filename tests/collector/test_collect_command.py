"""`celery-admin collect`: the collector alone, without HTTP; it takes the lease, collects, and
gives the lease back when stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.db.engine import create_engine
from src.embedded_redis import EmbeddedRedis
from src.leadership import LEASE_KEY
from tests.collector.support import states, wait_rows
from tests.support.servers import ROOT, TEST_JWT_SECRET, WorkerProcess, client_app, redis_binary


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.mark.timeout(90)
async def test_collect_runs_the_collector_alone(database_url: str, engine: AsyncEngine) -> None:
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    worker = WorkerProcess(redis, "collect-cmd@tests", queues="health", concurrency=1)
    client = client_app(redis)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis.port),
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
    }
    command = subprocess.Popen(  # noqa: ASYNC220 (starts it, does not wait)
        [sys.executable, "-m", "src.cli", "collect"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lease = aioredis.Redis.from_url(f"{redis.url}/0")
    try:
        holder = None
        for _ in range(1200):  # 60 s: start-up checks and imports are slow on a loaded machine
            holder = await lease.get(LEASE_KEY)
            if holder:
                break
            await asyncio.sleep(0.05)
        assert holder is not None and f":{command.pid}:" in holder.decode()
        await asyncio.to_thread(worker.wait_ready, client)
        ids = [
            client.send_task("src.tasks.demo.add", args=[i, 5], queue="health").id for i in range(3)
        ]
        rows = await wait_rows(
            engine, ids, lambda r: len(r) == 3 and set(states(r).values()) == {"SUCCESS"}
        )
        assert set(states(rows).values()) == {"SUCCESS"} and len(rows) == 3

        command.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(command.wait, 20) == 0
        assert await lease.get(LEASE_KEY) is None  # released for the next leader
    finally:
        if command.poll() is None:
            command.kill()
        await lease.aclose()
        worker.stop()
        redis.stop()
