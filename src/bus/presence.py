"""Which channels have a subscriber on some replica: so a producer builds and sends nothing for a
channel nobody watches.

A replica with local subscribers on a channel keeps its id in a sorted set per channel, scored by
an expiry time it refreshes (`announce`, every canary interval; a replica that dies drops out after
`TTL`). A producer asks `watched()` every `REFRESH` seconds (one pipelined ZCOUNT per channel)
and, once it acts on the answer, writes when that look began (`mark_seen`, `SEEN_KEY`): a replica
whose first subscriber arrives announces itself and then waits (bounded) until a producer has
looked since, so no change made after `subscribe` returns is skipped for want of a subscriber.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from redis import asyncio as aioredis

PREFIX = "celery_admin:bus:presence:"
SEEN_KEY = PREFIX + "seen"
TTL = 15.0
REFRESH = 0.25
ALIVE = 5.0  # a producer that has not looked for this long is gone (or stalled)


def _key(channel: str) -> str:
    return PREFIX + channel


async def announce(redis: aioredis.Redis, replica: str, channels: Iterable[str]) -> None:
    now = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.zadd(_key(channel), {replica: now + TTL})
            pipe.zremrangebyscore(_key(channel), "-inf", now)
            pipe.expire(_key(channel), int(TTL) * 2)
        await pipe.execute()


async def withdraw(redis: aioredis.Redis, replica: str, channels: Iterable[str]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.zrem(_key(channel), replica)
        await pipe.execute()


async def watched(redis: aioredis.Redis, channels: list[str]) -> tuple[set[str], float]:
    """The channels some live replica subscribes to, and when the look began (pass it to
    `mark_seen` once the answer is in use)."""
    now = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.zcount(_key(channel), now, "+inf")
        counts = await pipe.execute()
    return {c for c, n in zip(channels, counts, strict=True) if n}, now


async def mark_seen(redis: aioredis.Redis, producer: str, at: float) -> None:
    """Producer `producer` now acts on presence as it was at `at` (what `wait_seen` waits for)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(SEEN_KEY, producer, repr(at))
        pipe.expire(SEEN_KEY, int(TTL))
        await pipe.execute()


async def wait_seen(redis: aioredis.Redis, since: float, within: float) -> bool:
    """Wait until every live producer (one that looked in the last `ALIVE` seconds) has looked
    after `since`; False when none is live, or not in time."""
    deadline = time.monotonic() + within
    while True:
        raw = await redis.hgetall(SEEN_KEY)
        now = time.time()
        live = [float(at) for at in raw.values() if float(at) > now - ALIVE]
        gone = [p for p, at in raw.items() if float(at) <= now - TTL]
        if gone:  # producers that stopped: keep the hash small
            await redis.hdel(SEEN_KEY, *gone)
        if not live:
            return False  # no producer looks at presence: nothing to wait for
        if min(live) >= since:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(REFRESH / 4)


__all__ = [
    "PREFIX",
    "REFRESH",
    "SEEN_KEY",
    "TTL",
    "announce",
    "mark_seen",
    "wait_seen",
    "watched",
    "withdraw",
]
