"""Redis clients whose pool makes a caller wait for a connection instead of failing.

redis-py's default pool raises "Too many connections" the moment its cap is reached: one viewer's
20 aliases of `alerts` made the sampler and `purgeQueue` fail with BROKER_UNAVAILABLE (50 aliases of
`queues` answered INTERNAL). A blocking pool queues the extra callers for up to `wait` seconds,
then raises redis's ConnectionError, which the callers already map to their *_UNAVAILABLE code.
"""

from __future__ import annotations

from typing import Any

from redis import asyncio as aioredis

POOL_WAIT_SECONDS = 5.0


def blocking_redis(
    url: str, *, max_connections: int, wait: float = POOL_WAIT_SECONDS, **options: Any
) -> aioredis.Redis:
    """A client owning a BlockingConnectionPool of `max_connections` (closed with the client)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait, **options
    )
    return aioredis.Redis.from_pool(pool)


__all__ = ["POOL_WAIT_SECONDS", "blocking_redis"]
