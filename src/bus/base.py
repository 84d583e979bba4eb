"""The event bus contract: what producers (collector, sampler, alerts) and subscriptions rely on.

`publish` never blocks its caller for long and never raises: a live event that cannot be sent is
dropped and counted, because event collection must not wait on subscribers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

ENVELOPE_VERSION = 1


class Channel(StrEnum):
    TASKS = "celery_admin.tasks"  # one message per task state change (data: the task's fields)
    WORKERS = "celery_admin.workers"  # worker online / offline / heartbeat
    METRICS = "celery_admin.metrics"  # the sampler's periodic sample
    ALERTS = "celery_admin.alerts"  # an alert raised or resolved


def envelope(kind: str, data: Any) -> dict[str, Any]:
    """The versioned JSON message every channel carries."""
    return {"v": ENVELOPE_VERSION, "type": kind, "at": time.time(), "data": data}


@dataclass(frozen=True, slots=True)
class BusHealth:
    """What systemStatus and monitoring show about the bus of this process."""

    enabled: bool  # False for NullBus: nothing live in this process
    connected: bool  # subscribed to Redis and the last canary came back in time
    reconnects: int  # subscriptions rebuilt after a lost connection or a dead listener
    dropped: int  # published messages dropped (Redis unreachable or slow)
    subscribers: int  # live subscriptions served by this process
    missed: int  # messages skipped for subscribers that read too slowly
    last_error: str | None = None


class EventBus(Protocol):
    async def publish(self, channel: Channel, message: dict[str, Any]) -> None: ...

    def offer(self, channel: Channel, messages: list[dict[str, Any]]) -> bool:
        """For high-rate producers: hand over a batch; never waits (dropped and counted when
        subscribers cannot keep up; they are told how many they missed)."""
        ...

    def wants(self, channel: Channel) -> bool:
        """Whether any replica has a subscriber on `channel` now (producers skip it if not)."""
        ...

    def subscribe(
        self,
        channel: Channel,
        *,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        key: Hashable | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """`async with bus.subscribe(ch) as messages: async for m in messages: ...`; with
        `accept`, only the messages it accepts (subscribers with one `key` share the check)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> BusHealth: ...


class NullBus:
    """A bus that drops everything: for processes that publish nothing live (tools, tests)."""

    dropped = 0

    async def publish(self, channel: Channel, message: dict[str, Any]) -> None:
        self.dropped += 1

    def offer(self, channel: Channel, messages: list[dict[str, Any]]) -> bool:
        return False

    def wants(self, channel: Channel) -> bool:
        return False

    def subscribe(
        self,
        channel: Channel,
        *,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        key: Hashable | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        raise NotImplementedError("no event bus in this process")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def health(self) -> BusHealth:
        return BusHealth(False, False, 0, self.dropped, 0, 0, None)


__all__ = ["ENVELOPE_VERSION", "BusHealth", "Channel", "EventBus", "NullBus", "envelope"]
