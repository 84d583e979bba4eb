"""Root fields of the workers domain."""

from __future__ import annotations

import asyncio

from resolvers.selection import selected_subfields
from schema.context import Info
from schema.types.workers import Worker, WorkerStatus
from src.control.inspector import InspectKind, InspectReply
from src.workers import kinds_for


async def _replies(info: Info) -> dict[InspectKind, InspectReply]:
    """One broadcast per inspect kind the selection needs, fetched concurrently."""
    kinds = sorted(kinds_for(selected_subfields(info)))
    replies = await asyncio.gather(*(info.context.view.reply(kind) for kind in kinds))
    return dict(zip(kinds, replies, strict=True))


async def workers(info: Info, status: WorkerStatus = WorkerStatus.ONLINE) -> list[Worker]:
    """Workers answering now; OFFLINE/ALL add workers seen recently that no longer answer."""
    replies = await _replies(info)
    online = sorted(replies[InspectKind.STATS].replies)
    result = [Worker.build(h, True, replies) for h in online]
    if status is WorkerStatus.ONLINE:
        return result
    offline = sorted(set(info.context.services.inspector.recently_seen()) - set(online))
    gone = [Worker.build(h, False, {}) for h in offline]
    return gone if status is WorkerStatus.OFFLINE else result + gone


async def worker(info: Info, hostname: str) -> Worker | None:
    """One worker by hostname; null when no worker of that name answers or was seen."""
    replies = await _replies(info)
    if hostname in replies[InspectKind.STATS].replies:
        return Worker.build(hostname, True, replies)
    if hostname in info.context.services.inspector.recently_seen():
        return Worker.build(hostname, False, {})
    return None


__all__ = ["worker", "workers"]
