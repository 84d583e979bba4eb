"""Adapter over broadcaster's private Redis backend (pinned: broadcaster 0.3.x).

broadcaster 0.3.1's `RedisBackend` marks itself ready before SUBSCRIBE completes, so with
redis-py 8 its listener finds nothing subscribed, returns at once, and nothing is ever delivered;
it also connects without timeouts. `SubscribeFirstBackend` replaces its constructor and
`subscribe`; everything else (connect, the listener, publish, next_published, disconnect) is the
parent's. The bus (src/bus/redis_bus.py) uses only this module for what is private in broadcaster.

What we rely on, checked by tests/contracts/test_broadcaster.py: the module path
`broadcaster._backends.redis.RedisBackend`; its attributes `_conn`, `_pubsub`, `_ready`,
`_queue`, `_listener` (set by the constructor, read by its listener); its coroutine methods;
`Broadcast._listener_task`; and that a subscribed message arrives through a real Redis.

Each message is stamped when it arrives from Redis (`arrived_at`) and counted (`arrivals`), so the
bus can tell how long it waited in this process and whether more are waiting behind it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from broadcaster import Broadcast
from broadcaster._backends.redis import RedisBackend
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def _no_retry() -> Retry:
    """redis-py's own retries (with multi-second backoff) would hide a dead Redis from the bus,
    which retries itself, sooner, and tells subscribers."""
    return Retry(NoBackoff(), 0)


class _ArrivalQueue(asyncio.Queue[Any]):
    """The backend's queue (its listener puts each message read from Redis here): stamps and
    counts what arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals = 0

    def put_nowait(self, item: Any) -> None:
        item.arrived_at = time.monotonic()
        self.arrivals += 1
        super().put_nowait(item)


class SubscribeFirstBackend(RedisBackend):
    """broadcaster's Redis backend, made to work with redis-py 8 and to fail fast when Redis is down.

    The pub/sub connection has a connect timeout but no read timeout (it waits for messages)."""

    def __init__(self, url: str, *, connect_timeout: float) -> None:  # replaces the parent's
        self._conn = aioredis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout, socket_keepalive=True, retry=_no_retry()
        )
        self._pubsub = self._conn.pubsub()
        self._ready = asyncio.Event()
        self._arrival_queue = _ArrivalQueue()
        self._queue = self._arrival_queue
        self._listener = None

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()  # only now: redis-py's listen() returns at once while nothing is subscribed

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.done()

    @property
    def arrivals(self) -> int:
        """Messages read from Redis so far."""
        return self._arrival_queue.arrivals


def arrived_at(event: Any) -> float | None:
    """When (time.monotonic) a message read by `SubscribeFirstBackend` arrived from Redis."""
    value = getattr(event, "arrived_at", None)
    return value if isinstance(value, float) else None


def listener_task(broadcast: Broadcast) -> asyncio.Task[None] | None:
    """The task in which `Broadcast` reads its backend (set by `connect()`)."""
    return getattr(broadcast, "_listener_task", None)


__all__ = ["SubscribeFirstBackend", "arrived_at", "listener_task"]
