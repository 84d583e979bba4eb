"""The Redis lease: one leader among several, takeover when it stops or loses the lease."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from src.embedded_redis import EmbeddedRedis
from src.leadership import Leadership
from tests.collector.support import wait_for


@pytest.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(f"{redis_server.url}/2")
    yield client
    await client.aclose()


def candidate(
    redis: aioredis.Redis, key: str, running: dict[str, int], ttl: float = 1.5
) -> Leadership:
    holder: list[Leadership] = []

    async def job() -> None:
        me = holder[0].token
        running[me] = running.get(me, 0) + 1
        try:
            await asyncio.Event().wait()
        finally:
            running[me] -= 1

    leadership = Leadership(redis, [("job", job)], key=key, ttl=ttl)
    holder.append(leadership)
    return leadership


async def test_one_leads_and_the_other_takes_over(redis: aioredis.Redis) -> None:
    key = f"test:leader:{uuid.uuid4().hex}"
    running: dict[str, int] = {}
    # A lease long enough that a loaded CI machine never lets it lapse between renewals.
    first, second = candidate(redis, key, running, 6.0), candidate(redis, key, running, 6.0)
    one = asyncio.create_task(first.run())
    assert await wait_for(lambda: first.is_leader, 5)
    two = asyncio.create_task(second.run())
    await asyncio.sleep(1.0)  # several acquire attempts by the second
    assert first.is_leader and not second.is_leader
    assert running == {first.token: 1}
    assert (await redis.get(key)).decode() == first.token

    one.cancel()  # a clean stop releases the lease at once
    await asyncio.gather(one, return_exceptions=True)
    assert await wait_for(lambda: second.is_leader, 3)
    assert running == {first.token: 0, second.token: 1}
    two.cancel()
    await asyncio.gather(two, return_exceptions=True)
    assert running[second.token] == 0 and await redis.get(key) is None


async def test_a_leader_that_loses_its_lease_stops_its_jobs(redis: aioredis.Redis) -> None:
    key = f"test:leader:{uuid.uuid4().hex}"
    running: dict[str, int] = {}
    first = candidate(redis, key, running)
    task = asyncio.create_task(first.run())
    assert await wait_for(lambda: first.is_leader and running.get(first.token) == 1, 5)
    await redis.set(key, "someone-else", px=60_000)  # e.g. it expired during a long pause
    assert await wait_for(lambda: not first.is_leader, 5)
    assert running[first.token] == 0
    await redis.delete(key)
    assert await wait_for(lambda: first.is_leader and running[first.token] == 1, 5)
    assert first.terms == 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
