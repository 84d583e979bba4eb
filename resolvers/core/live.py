"""The one way a subscription resolver streams a bus channel to a client.

The field's guard has checked the caller when the subscription started; `live()` ends the stream
with UNAUTHENTICATED when their token expires, and turns the bus's missed notices into
`EventsMissed`. The metrics and alerts subscriptions use it the same way as taskEvents and
workerEvents.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

from schema.core.context import Info
from schema.streams.types import EventsMissed
from src.bus.base import Channel
from src.bus.stream import Missed, stream

T = TypeVar("T")


async def live(
    info: Info,
    channel: Channel,
    transform: Callable[[dict[str, Any]], T | None],
    *,
    initial: Callable[[], Awaitable[Iterable[T]]] | None = None,
    accept: Callable[[dict[str, Any]], bool] | None = None,
    key: Hashable | None = None,
) -> AsyncGenerator[T | EventsMissed, None]:
    """Yield `initial()` then `transform(envelope)` for each message on `channel` (None skips).
    `accept`/`key`: a filter checked before queueing, shared by subscribers with one key."""
    principal = info.context.caller()
    items = stream(
        info.context.bus,
        channel,
        transform,
        initial=initial,
        expires_at=principal.expires_at,
        accept=accept,
        key=key,
    )
    async for item in items:
        yield EventsMissed.from_missed(item) if isinstance(item, Missed) else item


__all__ = ["live"]
