"""A leader change in the middle of delivering: two real `celery-admin collect` processes on one
Redis and one database; the leader raises an alert from its rules and retries the notification
while the receiver refuses; it is killed (SIGKILL: no clean hand-over), the receiver recovers, and
the new leader delivers the notification once, then the resolve once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from src.leadership import LEASE_KEY
from src.monitoring import settings as keys
from src.monitoring.alert_rules import ALERT_RULES
from src.monitoring.delivery.sinks import ALERT_SINKS
from src.monitoring.delivery.store import DeliveryFilter, DeliveryStore
from src.system.config import ConfigStore
from tests.conftest import DB_KIND
from tests.monitoring.delivery.conftest import unique
from tests.support.receiver import Received, Receiver
from tests.support.servers import (
    ROOT,
    TEST_JWT_SECRET,
    client_app,
    redis_binary,
    temporary_database,
)

SECRET = "leader-change-hmac-key-0123456789"


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    with temporary_database(DB_KIND, tmp_path) as url:
        yield url


class Replica:
    """One `celery-admin collect` process: the leader jobs (collector, sampler, delivery)."""

    def __init__(self, redis: EmbeddedRedis, database_url: str, log: Path) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))},
            "PYTHONPATH": str(ROOT),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis.port),
            "DATABASE_URL": database_url,
            "JWT_SECRET": TEST_JWT_SECRET,
            "LEADER_LEASE_SECONDS": "2",
            "INSPECT_TIMEOUT": "0.5",
        }
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "src.cli", "collect"],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
async def lease(own_redis: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(f"{own_redis.url}/0")
    yield client
    await client.aclose()


async def _leader(lease: aioredis.Redis, replicas: list[Replica], within: float) -> Replica:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        holder = await lease.get(LEASE_KEY)
        for replica in replicas:
            if holder and f":{replica.pid}:" in holder.decode():
                return replica
        for replica in replicas:
            assert replica.process.poll() is None, replica.log.read_text()[-3000:]
        await asyncio.sleep(0.05)
    raise AssertionError("no replica took the lease")


def _firing(requests: list[Received]) -> list[Received]:
    return [r for r in requests if r.headers.get("x-celery-admin-event") == "firing"]


def _resolved(requests: list[Received]) -> list[Received]:
    return [r for r in requests if r.headers.get("x-celery-admin-event") == "resolved"]


@pytest.mark.timeout(300)
async def test_a_new_leader_delivers_what_the_killed_one_was_retrying_once(
    own_redis: EmbeddedRedis, own_database: str, lease: aioredis.Redis, tmp_path: Path
) -> None:
    queue = unique("nobody-consumes")
    receiver = Receiver(status=503).start()
    db = Database.from_url(own_database)
    config = ConfigStore(db)
    settings: list[tuple[str, Any]] = [
        (keys.METRICS_INTERVAL.name, 0.5),
        (ALERT_RULES.name, [{"kind": "queue_backlog", "id": "backlog", "queues": [queue],
                             "threshold": 1, "severity": "critical"}]),
        (ALERT_SINKS.name, [{"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook",
                             "secret": SECRET, "backoff_seconds": 0.3, "max_backoff_seconds": 0.6,
                             "timeout_seconds": 2}]),
    ]  # fmt: skip
    for name, value in settings:
        await config.set(name, value, actor="test")
    await db.dispose()
    client = client_app(own_redis)
    for i in range(3):
        client.send_task("src.tasks.demo.add", args=[i, i], queue=queue)

    first = Replica(own_redis, own_database, tmp_path / "first.log")
    replicas = [first]
    try:
        assert await _leader(lease, replicas, 90) is first
        second = Replica(own_redis, own_database, tmp_path / "second.log")
        replicas.append(second)
        # The leader raises the alert and retries its notification while the receiver refuses.
        await receiver.wait_for(lambda rs: len(_firing(rs)) >= 2, within=90)
        first.process.kill()  # mid-delivery: no release, no last word
        first.process.wait(10)
        receiver.status = 200

        assert await _leader(lease, [second], 60) is second
        await receiver.wait_for(lambda rs: any(r.accepted for r in _firing(rs)), within=90)
        await lease.delete(queue)  # the backlog is gone (its Redis list): the alert resolves
        await receiver.wait_for(lambda rs: any(r.accepted for r in _resolved(rs)), within=90)
        await asyncio.sleep(2.0)  # four delivery rounds: nothing more may arrive
        requests = receiver.received()
    finally:
        for replica in replicas:
            replica.stop()
        receiver.stop()

    firing, resolved = _firing(requests), _resolved(requests)
    assert [r.accepted for r in firing].count(True) == 1, [r.headers for r in firing]
    assert [r.accepted for r in resolved].count(True) == 1
    assert (
        len({r.notification for r in firing}) == 1 and len({r.notification for r in resolved}) == 1
    )
    attempts = [int(r.headers["x-celery-admin-attempt"]) for r in firing]
    assert attempts == sorted(set(attempts)), attempts  # the new leader went on counting
    assert firing[-1].accepted and not any(r.accepted for r in firing[:-1])
    assert requests.index(firing[-1]) < requests.index(resolved[-1])

    db = Database.from_url(own_database)
    try:
        rows = (await DeliveryStore(db).page(DeliveryFilter(), first=50)).rows
    finally:
        await db.dispose()
    assert sorted((r.event, r.status) for r in rows) == [("firing", "delivered"),
                                                         ("resolved", "delivered")]  # fmt: skip
    firing_row = next(r for r in rows if r.event == "firing")
    assert firing_row.attempts == attempts[-1] and firing_row.claimed_by
    assert f":{second.pid}:" in firing_row.claimed_by
