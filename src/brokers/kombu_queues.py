"""Queues on any other kombu transport (RabbitMQ and friends), through passive declares.

Blocking kombu calls run in a worker thread. The broker cannot list queues through AMQP itself, so
discovery returns nothing and names come from the workers' `active_queues` and the app's config.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from celery import Celery

from src.brokers.base import PeekedMessage, QueueDepth, RemovalReport
from src.control.errors import Unsupported


class KombuQueueBackend:
    def __init__(self, app: Celery, *, timeout: float = 2.0) -> None:
        self._app = app
        self._timeout = timeout

    async def ping(self) -> None:
        await asyncio.to_thread(self._ping)

    def _ping(self) -> None:
        with self._app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=self._timeout)

    async def discover(self) -> set[str]:
        return set()

    async def depths(self, names: list[str]) -> dict[str, QueueDepth]:
        return await asyncio.to_thread(self._depths, names)

    def _depths(self, names: list[str]) -> dict[str, QueueDepth]:
        result: dict[str, QueueDepth] = {}
        with self._app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=self._timeout)
            for name in names:
                channel = conn.channel()
                try:
                    _, messages, consumers = channel.queue_declare(queue=name, passive=True)
                except Exception:  # the queue does not exist (the channel is closed by the broker)
                    result[name] = QueueDepth(name=name, messages=0, by_priority={0: 0})
                    continue
                finally:
                    with contextlib.suppress(Exception):
                        channel.close()
                result[name] = QueueDepth(
                    name=name,
                    messages=messages,
                    by_priority={0: messages},
                    consumer_count=consumers,
                )
        return result

    async def purge(self, name: str) -> int:
        return await asyncio.to_thread(self._purge, name)

    def _purge(self, name: str) -> int:
        with self._app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=self._timeout)
            channel = conn.channel()
            try:
                return int(channel.queue_purge(name) or 0)
            finally:
                channel.close()

    async def peek(self, name: str, count: int) -> list[PeekedMessage]:
        raise Unsupported(
            "this broker cannot show a message without consuming it; on RabbitMQ set "
            "RABBITMQ_MANAGEMENT_URL (its management API can)"
        )

    async def peek_oldest(self, depths: Mapping[str, QueueDepth]) -> dict[str, list[bytes]] | None:
        return None  # AMQP cannot look at a message without taking it

    async def scan(self, names: list[str], needle: bytes) -> AsyncIterator[tuple[str, bytes]]:
        return
        yield  # an async generator that finds nothing

    async def remove_waiting(self, names: list[str], task_ids: list[str]) -> RemovalReport | None:
        return None  # AMQP cannot take one message out of a queue without consuming the others

    async def close(self) -> None:
        return None


__all__ = ["KombuQueueBackend"]
