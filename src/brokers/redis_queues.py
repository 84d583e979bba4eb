"""Queues on a Redis broker, read the way kombu lays them out.

A queue `q` is a list; with priorities kombu adds lists `q\\x06\\x16{p}`. Messages a worker holds
but has not acknowledged sit in the `unacked` hash as `[payload, exchange, routing_key]`. Bindings
live in sets `_kombu.binding.<exchange>` whose members end with the queue name, which is how queues
are discovered on any cluster.
"""

from __future__ import annotations

import json
from collections import Counter

from redis import asyncio as aioredis

from src.brokers.base import QueueDepth

PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = tuple(range(1, 10))
BINDING_PREFIX = "_kombu.binding."
UNACKED_KEY = "unacked"
MAX_UNACKED_SCAN = 10_000


class RedisQueueBackend:
    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            max_connections=16,
        )

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    async def ping(self) -> None:
        await self._redis.ping()

    async def discover(self) -> set[str]:
        names: set[str] = set()
        keys = [key async for key in self._redis.scan_iter(match=BINDING_PREFIX + "*", count=500)]
        if not keys:
            return names
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.smembers(key)
            for members in await pipe.execute():
                for member in members:
                    queue = member.decode(errors="replace").rsplit(PRIORITY_SEP, 1)[-1]
                    if queue and not queue.endswith(".pidbox") and not queue.startswith("celeryev"):
                        names.add(queue)
        return names

    async def depths(self, names: list[str]) -> dict[str, QueueDepth]:
        if not names:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(name)
                for step in PRIORITY_STEPS:
                    pipe.llen(f"{name}{PRIORITY_SEP}{step}")
            pipe.hlen(UNACKED_KEY)
            counts = await pipe.execute()
        unacked_total = int(counts[-1])
        unacked = await self._unacked_by_routing_key() if unacked_total else Counter()
        per_queue = 1 + len(PRIORITY_STEPS)
        result: dict[str, QueueDepth] = {}
        for i, name in enumerate(names):
            chunk = counts[i * per_queue : (i + 1) * per_queue]
            by_priority = {0: int(chunk[0])}
            by_priority.update(
                {step: int(n) for step, n in zip(PRIORITY_STEPS, chunk[1:], strict=True) if n}
            )
            result[name] = QueueDepth(
                name=name,
                messages=sum(by_priority.values()),
                by_priority=by_priority,
                unacked=unacked.get(name, 0),
            )
        return result

    async def _unacked_by_routing_key(self) -> Counter[str]:
        """Count unacked messages per routing key (which is the queue name for direct routing)."""
        counts: Counter[str] = Counter()
        seen = 0
        async for _tag, raw in self._redis.hscan_iter(UNACKED_KEY, count=500):
            seen += 1
            try:
                _payload, _exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            counts[str(routing_key)] += 1
            if seen >= MAX_UNACKED_SCAN:
                break
        return counts

    async def purge(self, name: str) -> int:
        keys = [name, *(f"{name}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS)]
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.llen(key)
            pipe.delete(*keys)
            replies = await pipe.execute()
        return int(sum(replies[: len(keys)]))

    async def close(self) -> None:
        await self._redis.aclose()


__all__ = ["RedisQueueBackend"]
