"""Checks read from real workers on their own Redis, each set up to trigger one finding beside
a worker that must not be named: acks_late without reject_on_worker_lost, results without
expiry, a visibility timeout shorter than a held countdown, memory growth without a per-child
limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from redis import asyncio as aioredis

from src.doctor.checks import acks_late, result_expiry, visibility_timeout
from src.doctor.checks.memory_growth import CODE as GROWTH
from src.doctor.checks.memory_growth import MemoryGrowthCheck
from src.doctor.model import Check, Severity
from src.embedded_redis import EmbeddedRedis
from tests.doctor.support import check, doctor_worker
from tests.doctor.worker_app import client
from tests.support.servers import WorkerProcess, redis_binary

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workers(own_redis: EmbeddedRedis) -> Iterator[dict[str, WorkerProcess]]:
    started = {
        "risky": doctor_worker(
            own_redis,
            "risky@doctor",
            "risky",
            {"task_acks_late": True, "result_expires": None},
        ),
        "careful": doctor_worker(
            own_redis,
            "careful@doctor",
            "careful",
            {
                "task_acks_late": True,
                "task_reject_on_worker_lost": True,
                "worker_max_tasks_per_child": 1000,
            },
        ),
    }
    try:
        for worker in started.values():
            worker.wait_ready(client(own_redis.port))
        yield started
    finally:
        for worker in started.values():
            worker.stop()


async def test_acks_late_without_reject_on_worker_lost(
    own_redis: EmbeddedRedis, workers: dict[str, WorkerProcess]
) -> None:
    (advisory,) = await check(acks_late.CHECK, client(own_redis.port))
    assert advisory.code == "acks_late_without_reject_on_worker_lost"
    assert advisory.severity is Severity.WARNING
    assert "risky@doctor" in advisory.evidence and "careful@doctor" not in advisory.evidence
    assert "task_reject_on_worker_lost=True" in advisory.fix


async def test_results_without_expiry(
    own_redis: EmbeddedRedis, workers: dict[str, WorkerProcess]
) -> None:
    app = client(own_redis.port)
    app.send_task("doctor.noop", queue="risky").get(timeout=60)
    app.send_task("doctor.noop", queue="careful").get(timeout=60)
    (advisory,) = await check(result_expiry.CHECK, app)
    assert advisory.code == "results_never_expire"
    assert "worker risky@doctor: result_expires unset" in advisory.evidence
    assert "careful@doctor" not in advisory.evidence
    assert "1 of 2 sampled result keys in Redis have no TTL" in advisory.evidence


async def test_no_result_expiry_finding_with_the_default(
    own_redis: EmbeddedRedis, workers: dict[str, WorkerProcess]
) -> None:
    workers["risky"].stop()
    try:
        redis = aioredis.Redis(port=own_redis.port, db=1)
        await redis.flushdb()  # the risky worker's result, kept forever, goes with it
        await redis.aclose()
        assert await check(result_expiry.CHECK, client(own_redis.port)) == []
    finally:
        workers["risky"] = doctor_worker(
            own_redis, "risky@doctor", "risky", {"task_acks_late": True, "result_expires": None}
        )
        workers["risky"].wait_ready(client(own_redis.port))


async def test_a_countdown_longer_than_the_visibility_timeout(
    own_redis: EmbeddedRedis, workers: dict[str, WorkerProcess]
) -> None:
    sender = client(own_redis.port)
    held = sender.send_task("doctor.noop", queue="careful", countdown=600)
    try:
        # the worker reserves it at once and holds it, unacknowledged, until it is due
        short = client(
            own_redis.port,
            broker_transport_options={"polling_interval": 0.05, "visibility_timeout": 120},
        )
        redis = aioredis.Redis(port=own_redis.port)
        for _ in range(600):
            if await redis.hlen("unacked"):
                break
            await asyncio.sleep(0.1)
        await redis.aclose()
        (advisory,) = await check(visibility_timeout.CHECK, short)
        assert advisory.code == "visibility_timeout_too_short"
        assert advisory.severity is Severity.CRITICAL
        assert "visibility_timeout 2 min" in advisory.evidence and held.id in advisory.evidence
        # the default hour is longer than the countdown: nothing to say
        assert await check(visibility_timeout.CHECK, sender) == []
    finally:
        held.revoke()


async def test_memory_growth_without_a_per_child_limit(
    own_redis: EmbeddedRedis, workers: dict[str, WorkerProcess]
) -> None:
    app = client(own_redis.port)
    state = aioredis.Redis(port=own_redis.port, db=2)
    growth = Check(GROWTH, MemoryGrowthCheck(min_growth_bytes=40 << 20, min_ratio=1.2).run)
    try:
        assert await check(growth, app, state_redis=state) == []  # one sample says nothing
        for queue in ("risky", "careful"):
            app.send_task("doctor.grow", args=(120,), queue=queue).get(timeout=60)
        (advisory,) = await check(growth, app, state_redis=state)
        assert advisory.code == "worker_memory_grows_unbounded"
        assert "risky@doctor: peak RSS" in advisory.evidence
        assert "careful@doctor" not in advisory.evidence  # it has worker_max_tasks_per_child
    finally:
        await state.aclose()
