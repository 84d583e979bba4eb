"""What a broker can tell about its queues, and do to them, whatever the transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from celery import Celery


@dataclass(frozen=True, slots=True)
class BrokerConsumer:
    """A consumer as the broker sees it (RabbitMQ's management API)."""

    tag: str
    prefetch: int  # 0: unlimited
    ack_required: bool
    connection: str | None = None  # the consumer's connection name (peer address on RabbitMQ)


@dataclass(frozen=True, slots=True)
class MessageRates:
    """Messages per second over the broker's last sampling interval."""

    publish: float
    deliver: float  # delivered to consumers (and basic.get)
    ack: float


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """One queue as the broker sees it."""

    name: str
    messages: int  # waiting to be delivered, every priority sub-queue included
    by_priority: dict[int, int] = field(default_factory=dict)
    unacked: int | None = None  # delivered to a worker, not yet acknowledged (None: unknown)
    consumer_count: int | None = None  # as the broker counts them (None: unknown)
    broker_consumers: tuple[BrokerConsumer, ...] | None = None  # None: the broker cannot list them
    rates: MessageRates | None = None  # None: the broker does not count them
    oldest_published_at: float | None = None  # epoch of the head message, when the broker knows


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    """A waiting message, read without consuming it."""

    task_id: str | None
    task_name: str | None
    eta: str | None  # ISO 8601 as Celery wrote it, or None
    priority: int | None = None
    redelivered: bool | None = None


def peeked_from_headers(
    headers: object, *, priority: int | None = None, redelivered: bool | None = None
) -> PeekedMessage:
    """A Celery (protocol 2) message's task id, name and ETA from its headers."""
    values = headers if isinstance(headers, dict) else {}

    def text(key: str) -> str | None:
        value = values.get(key)
        return str(value) if value is not None else None

    return PeekedMessage(
        task_id=text("id"),
        task_name=text("task"),
        eta=text("eta"),
        priority=priority,
        redelivered=redelivered,
    )


@dataclass
class RemovalReport:
    """What `QueueBackend.remove_waiting` took out of the queues."""

    removed: dict[str, str] = field(default_factory=dict)  # task id -> queue it was taken from
    scanned: int = 0  # waiting messages read
    incomplete: list[str] = field(default_factory=list)  # queues not read to the end (bounds)


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

    async def peek(self, name: str, count: int) -> list[PeekedMessage]:
        """The first `count` messages waiting in the queue, next to be delivered first, without
        consuming them (Unsupported where the broker cannot)."""
        ...

    async def peek_oldest(self, depths: Mapping[str, QueueDepth]) -> dict[str, list[bytes]] | None:
        """The oldest waiting message of each non-empty priority level of each queue, highest
        priority first, read without consuming; None where the broker cannot peek."""
        ...

    def scan(self, names: list[str], needle: bytes) -> AsyncIterator[tuple[str, bytes]]:
        """(queue, raw message) of waiting messages containing `needle` (bounded); nothing where
        the broker cannot read a queue without consuming it."""
        ...

    async def remove_waiting(self, names: list[str], task_ids: list[str]) -> RemovalReport | None:
        """Delete the waiting messages of `task_ids` from the named queues (bounded); None where
        the broker cannot take one message out of a queue."""
        ...

    async def ping(self) -> None:
        """Raise if the broker cannot be reached."""
        ...

    async def close(self) -> None: ...


def is_amqp_url(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://", "pyamqp://", "librabbitmq://"))


def queue_backend_for(
    app: Celery, *, timeout: float = 2.0, management_url: str | None = None
) -> QueueBackend:
    """The reader for the app's broker: Redis by its key layout; RabbitMQ through the management
    API when `management_url` is given; anything else through passive declares."""
    url = str(app.conf.broker_url or "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        from src.brokers.redis_queues import RedisQueueBackend

        return RedisQueueBackend(url, timeout=timeout)
    from src.brokers.kombu_queues import KombuQueueBackend

    passive = KombuQueueBackend(app, timeout=timeout)
    if management_url and is_amqp_url(url):
        from src.brokers.rabbitmq_queues import RabbitQueueBackend

        return RabbitQueueBackend(url, management_url, passive=passive, timeout=timeout)
    return passive


__all__ = [
    "BrokerConsumer",
    "MessageRates",
    "PeekedMessage",
    "QueueBackend",
    "QueueDepth",
    "RemovalReport",
    "is_amqp_url",
    "peeked_from_headers",
    "queue_backend_for",
]
