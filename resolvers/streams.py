"""The one way a subscription resolver streams a bus channel to a client.

`live()` checks the caller (viewer at least) once at start, ends the stream with UNAUTHENTICATED
when their token expires, and turns the bus's missed notices into `EventsMissed`. The metrics and
alerts subscriptions use it the same way as taskEvents and workerEvents.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from schema.context import Info
from schema.permissions import require_role
from schema.types.events import EventsMissed
from src.auth.roles import Role
from src.bus.base import Channel
from src.bus.stream import Missed, stream

T = TypeVar("T")


async def live(
    info: Info,
    channel: Channel,
    transform: Callable[[dict[str, Any]], T | None],
    *,
    initial: Callable[[], Awaitable[Iterable[T]]] | None = None,
    role: Role = Role.VIEWER,
) -> AsyncGenerator[T | EventsMissed, None]:
    """Yield `initial()` then `transform(envelope)` for each message on `channel` (None skips)."""
    principal = require_role(info, role)
    items = stream(
        info.context.services.bus,
        channel,
        transform,
        initial=initial,
        expires_at=principal.expires_at,
    )
    async for item in items:
        yield EventsMissed.from_missed(item) if isinstance(item, Missed) else item


__all__ = ["live"]
