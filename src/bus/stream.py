"""A subscription's stream: current state first, then the changes on one channel, each message
turned into a typed item (or skipped), with the bus's missed notices passed on as `Missed`.

Used by every subscription (taskEvents, workerEvents, metrics, alerts) so they behave alike: the
subscription to the channel is taken BEFORE the current state is read, so nothing published in
between is lost; and the stream ends with `Unauthenticated` when the caller's token expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from src.bus.base import Channel, EventBus
from src.bus.fanout import MISSED_KIND
from src.errors import AppError, ErrorCode, Unauthenticated

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Missed:
    """Messages this subscriber did not get: `count` of them, or an unknown number (None)."""

    count: int | None
    reason: str  # SLOW_CONSUMER or BUS_INTERRUPTED (src.bus.fanout)


class TokenExpired(Unauthenticated):
    pass


async def stream(
    bus: EventBus,
    channel: Channel | str,
    transform: Callable[[dict[str, Any]], T | None],
    *,
    initial: Callable[[], Awaitable[Iterable[T]]] | None = None,
    expires_at: datetime | None = None,
) -> AsyncIterator[T | Missed]:
    """Yield `initial()`'s items, then `transform(envelope)` for each message (None skips it).

    `transform` runs once per subscriber and message: keep it cheap; it must not mutate the
    envelope (subscribers share it). Ends when the bus stops; raises TokenExpired at `expires_at`.
    """
    if not bus.health().enabled:
        raise AppError("subscriptions are not available: no event bus", code=ErrorCode.UNSUPPORTED)
    async with bus.subscribe(channel) as messages:  # type: ignore[arg-type]
        if initial is not None:
            for item in await _bounded(initial(), expires_at):
                yield item
        while True:
            try:
                message = await _bounded(anext(messages), expires_at)
            except StopAsyncIteration:
                return
            if message.get("type") == MISSED_KIND:
                data = message.get("data") or {}
                yield Missed(count=data.get("count"), reason=str(data.get("reason")))
                continue
            change = transform(message)
            if change is not None:
                yield change


async def _bounded(step: Awaitable[T], expires_at: datetime | None) -> T:
    if expires_at is None:
        return await step
    remaining = (expires_at - datetime.now(UTC)).total_seconds()
    if remaining <= 0:
        if asyncio.iscoroutine(step):
            step.close()
        raise TokenExpired("token expired: subscribe again with a fresh token")
    deadline = asyncio.timeout(remaining)
    try:
        async with deadline:
            return await step
    except TimeoutError:
        if not deadline.expired():
            raise  # the step's own timeout, not the token's
        raise TokenExpired("token expired: subscribe again with a fresh token") from None


__all__ = ["Missed", "TokenExpired", "stream"]
