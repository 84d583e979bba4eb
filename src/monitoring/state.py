"""Monitoring state shared by every replica: the latest sample, task totals, alert state and the
sampler's heartbeat, kept in Redis (the pub/sub Redis, by default the broker's).

Only the leader writes; every replica reads, so `realtimeMetrics`, `/metrics` and `alerts` answer the
same whichever replica serves them. Without a Redis (an AMQP broker and no PUBSUB_URL) the state
lives in this process only, which is correct for a single replica. Every call is bounded by the
client's socket timeout.
"""

from __future__ import annotations

import time
from typing import Protocol

from src.security.pools import blocking_redis

DEFAULT_NAMESPACE = "celery_admin:monitoring"


class StateStore(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None: ...
    async def hgetall(self, key: str) -> dict[str, str]: ...
    async def hset(self, key: str, field: str, value: str) -> None: ...
    async def hset_many(self, key: str, mapping: dict[str, str]) -> None: ...
    async def hdel(self, key: str, *fields: str) -> None: ...
    async def hlen(self, key: str) -> int: ...
    async def close(self) -> None: ...


class RedisStateStore:
    def __init__(self, url: str, *, namespace: str = DEFAULT_NAMESPACE, timeout: float = 2.0):
        self.namespace = namespace
        self._redis = blocking_redis(  # waits for a connection: never "Too many connections"
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            max_connections=8,
        )

    def _k(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._k(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        await self._redis.set(self._k(key), value, px=px)

    async def hgetall(self, key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in (await self._redis.hgetall(self._k(key))).items()}

    async def hset(self, key: str, field: str, value: str) -> None:
        await self._redis.hset(self._k(key), field, value)

    async def hset_many(self, key: str, mapping: dict[str, str]) -> None:
        if mapping:
            await self._redis.hset(self._k(key), mapping=mapping)  # type: ignore[arg-type]

    async def hdel(self, key: str, *fields: str) -> None:
        if fields:
            await self._redis.hdel(self._k(key), *fields)

    async def hlen(self, key: str) -> int:
        return int(await self._redis.hlen(self._k(key)))

    async def close(self) -> None:
        await self._redis.aclose()


class MemoryStateStore:
    """The same contract in this process's memory (single replica without Redis, tools)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float | None]] = {}
        self._hashes: dict[str, dict[str, str]] = {}

    async def get(self, key: str) -> str | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and time.monotonic() > expires:
            del self._values[key]
            return None
        return value

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        self._values[key] = (value, time.monotonic() + ttl if ttl else None)

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(self._hashes.get(key, {}))

    async def hset(self, key: str, field: str, value: str) -> None:
        self._hashes.setdefault(key, {})[field] = value

    async def hset_many(self, key: str, mapping: dict[str, str]) -> None:
        self._hashes.setdefault(key, {}).update(mapping)

    async def hdel(self, key: str, *fields: str) -> None:
        for field in fields:
            self._hashes.get(key, {}).pop(field, None)

    async def hlen(self, key: str) -> int:
        return len(self._hashes.get(key, {}))

    async def close(self) -> None:
        return None


def state_store_for(url: str | None, *, namespace: str = DEFAULT_NAMESPACE) -> StateStore:
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStateStore(url, namespace=namespace)
    return MemoryStateStore()


__all__ = [
    "DEFAULT_NAMESPACE",
    "MemoryStateStore",
    "RedisStateStore",
    "StateStore",
    "state_store_for",
]
