"""Which workers exist: those answering inspect now, those seen recently, and the collector's
heartbeat registry (in Redis, so every replica agrees)."""

from __future__ import annotations

from redis import asyncio as aioredis

from src.collector.workers_registry import WorkerRecord, read_workers
from src.control.inspector import Inspector


class WorkerDirectory:
    def __init__(self, inspector: Inspector, state_redis: aioredis.Redis | None) -> None:
        self.inspector = inspector
        self._state_redis = state_redis

    def recently_seen(self) -> set[str]:
        """Workers that answered a broadcast within the last hour, alive or not."""
        return set(self.inspector.recently_seen())

    async def registry(self) -> dict[str, WorkerRecord]:
        """The collector's worker registry (heartbeats), by hostname."""
        return await read_workers(self._state_redis)


__all__ = ["WorkerDirectory"]
