"""What a broker can tell about its queues, whatever the transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from celery import Celery


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """One queue as the broker sees it."""

    name: str
    messages: int  # waiting to be delivered, every priority sub-queue included
    by_priority: dict[int, int] = field(default_factory=dict)
    unacked: int | None = None  # delivered to a worker, not yet acknowledged (None: unknown)
    consumer_count: int | None = None  # as the broker counts them (None: unknown)


class QueueBackend(Protocol):
    """Transport-specific queue reader."""

    async def discover(self) -> set[str]:
        """Queue names the broker knows of (may be empty where the broker cannot list them)."""
        ...

    async def depths(self, names: list[str]) -> dict[str, QueueDepth]:
        """Depth of each named queue; a queue the broker does not have has depth 0."""
        ...

    async def purge(self, name: str) -> int:
        """Remove every waiting message of the queue; return how many were removed."""
        ...

    async def ping(self) -> None:
        """Raise if the broker cannot be reached."""
        ...

    async def close(self) -> None: ...


def queue_backend_for(app: Celery, *, timeout: float = 2.0) -> QueueBackend:
    url = str(app.conf.broker_url or "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        from src.brokers.redis_queues import RedisQueueBackend

        return RedisQueueBackend(url, timeout=timeout)
    from src.brokers.kombu_queues import KombuQueueBackend

    return KombuQueueBackend(app, timeout=timeout)


__all__ = ["QueueBackend", "QueueDepth", "queue_backend_for"]
