"""Cancelling the leadership at any point of its first lease attempt ends it.

redis-py 8 swallows a cancellation that arrives while it connects (Python 3.11's timeout machinery
loses it when the connection completes in the same turn of the loop): the "acquired" lease then
kept the process leading and a stop waited for ever. This walks the cancellation through every
step of the first attempt against a real Redis; before the fix about a quarter of the steps hung.
"""

from __future__ import annotations

import asyncio
import uuid

from redis import asyncio as aioredis

from src.embedded_redis import EmbeddedRedis
from src.leadership import Leadership


async def _idle() -> None:
    await asyncio.Event().wait()


async def test_a_cancel_at_any_step_of_the_first_lease_attempt_ends_it(
    redis_server: EmbeddedRedis,
) -> None:
    hung = []
    for steps in range(40):
        client = aioredis.Redis.from_url(
            f"{redis_server.url}/0", socket_timeout=3, socket_connect_timeout=2
        )
        leadership = Leadership(client, [("idle", _idle)], key=f"test-lease-{uuid.uuid4().hex}")
        task = asyncio.create_task(leadership.run())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        if not done:
            hung.append(steps)
            task.cancel()
            await asyncio.wait({task}, timeout=10)
        assert not leadership.is_leader
        await client.aclose()
    assert hung == [], f"cancellations lost at steps {hung}"
