"""A subscription's stream: current state first, then the changes on one channel, each message
turned into a typed item (or skipped), with the bus's missed notices passed on as `Missed`.

Used by every subscription (taskEvents, workerEvents, metrics, alerts) so they behave alike: the
subscription to the channel is taken BEFORE the current state is read, so nothing published in
between is lost; and the stream ends with `Unauthenticated` when the caller's token expires.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from src.bus.base import Channel, EventBus
from src.bus.fanout import MISSED_KIND
from src.errors import AppError, ErrorCode, Unauthenticated

T = TypeVar("T")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Missed:
    """Messages this subscriber did not get: `count` of them, or an unknown number (None)."""

    count: int | None
    reason: str  # SLOW_CONSUMER or BUS_INTERRUPTED (src.bus.fanout)


EXPIRED = "token expired: subscribe again with a fresh token"


class TokenExpired(Unauthenticated):
    pass


class PerMessage(Generic[V]):
    """`build(message)` computed once per bus message and shared by every subscriber here.

    A message reaches each local subscriber as the same dict, so the work of decoding it (and the
    payload object built from it, which lets identical subscriptions share one GraphQL execution,
    see schema/adapters/shared_results.py) is done once instead of once per subscriber."""

    def __init__(self, build: Callable[[dict[str, Any]], V], size: int = 64) -> None:
        self._build = build
        self._size = size
        self._memo: OrderedDict[int, tuple[dict[str, Any], V]] = OrderedDict()

    def __call__(self, message: dict[str, Any]) -> V:
        hit = self._memo.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        value = self._build(message)
        self._memo[id(message)] = (message, value)  # holding the message keeps its id unique
        while len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return value


async def stream(
    bus: EventBus,
    channel: Channel | str,
    transform: Callable[[dict[str, Any]], T | None],
    *,
    initial: Callable[[], Awaitable[Iterable[T]]] | None = None,
    expires_at: datetime | None = None,
    accept: Callable[[dict[str, Any]], bool] | None = None,
    key: Hashable | None = None,
) -> AsyncIterator[T | Missed]:
    """Yield `initial()`'s items, then `transform(envelope)` for each message (None skips it).

    `transform` runs once per subscriber and message: keep it cheap; it must not mutate the
    envelope (subscribers share it). Ends when the bus stops; raises TokenExpired at `expires_at`.
    `accept` (optional, named by `key`) filters messages before they are queued for this
    subscriber, once per message for all subscribers with the same key.
    """
    if not bus.health().enabled:
        raise AppError("subscriptions are not available: no event bus", code=ErrorCode.UNSUPPORTED)
    subscription = (
        bus.subscribe(channel, accept=accept, key=key)  # type: ignore[arg-type]
        if accept is not None
        else bus.subscribe(channel)  # type: ignore[arg-type]
    )
    async with subscription as messages:
        # One timer ends the subscriber at expiry (cheaper than a timeout around every read).
        expire = getattr(messages, "expire", None)
        timer = None
        if expires_at is not None and expire is not None:
            delay = max(0.0, (expires_at - datetime.now(UTC)).total_seconds())
            timer = asyncio.get_running_loop().call_later(delay, expire)
        try:
            if initial is not None:
                for item in await _bounded(initial(), expires_at):
                    yield item
            while True:
                try:
                    if timer is None:
                        message = await _bounded(anext(messages), expires_at)
                    else:
                        message = await anext(messages)
                except StopAsyncIteration:
                    if getattr(messages, "expired", False):
                        raise TokenExpired(EXPIRED) from None
                    return
                if message.get("type") == MISSED_KIND:
                    data = message.get("data") or {}
                    yield Missed(count=data.get("count"), reason=str(data.get("reason")))
                    continue
                change = transform(message)
                if change is not None:
                    yield change
        finally:
            if timer is not None:
                timer.cancel()


async def _bounded(step: Awaitable[T], expires_at: datetime | None) -> T:
    if expires_at is None:
        return await step
    remaining = (expires_at - datetime.now(UTC)).total_seconds()
    if remaining <= 0:
        if asyncio.iscoroutine(step):
            step.close()
        raise TokenExpired(EXPIRED)
    deadline = asyncio.timeout(remaining)
    try:
        async with deadline:
            return await step
    except TimeoutError:
        if not deadline.expired():
            raise  # the step's own timeout, not the token's
        raise TokenExpired(EXPIRED) from None


__all__ = ["Missed", "PerMessage", "TokenExpired", "stream"]
