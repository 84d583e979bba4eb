"""Looking at the messages waiting in a queue without consuming them, so an operator can see what
is stuck: the first n, next to be delivered first, with their task names, ids and ETA."""

from __future__ import annotations

from src.brokers import PeekedMessage
from src.control.cluster_view import ClusterView
from src.errors import BadInput, NotFound
from src.queues.catalog import QueueCatalog

MAX_PEEK = 100


async def peek_queue(
    queues: QueueCatalog, view: ClusterView, name: str, count: int
) -> list[PeekedMessage]:
    if not 1 <= count <= MAX_PEEK:
        raise BadInput(f"n: between 1 and {MAX_PEEK}", field="n")
    if await queues.get(view, name) is None:
        raise NotFound(f"unknown queue {name!r}", field="name")
    return (await queues.backend.peek(name, count))[:count]


__all__ = ["MAX_PEEK", "peek_queue"]
