"""Root fields of the queues domain."""

from __future__ import annotations

from schema.context import Info
from schema.types.queues import Queue
from src.queues import get_queue, list_queues


async def queues(info: Info) -> list[Queue]:
    """Every queue the broker, the workers or the app know, with its depth."""
    services = info.context.services
    found = await list_queues(services.app, services.queues, info.context.view)
    return [Queue.from_info(q) for q in found]


async def queue(info: Info, name: str) -> Queue | None:
    """One queue by name; null when nothing knows a queue of that name."""
    services = info.context.services
    found = await get_queue(services.app, services.queues, info.context.view, name)
    return Queue.from_info(found) if found else None


__all__ = ["queue", "queues"]
