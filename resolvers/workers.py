"""Root fields of the workers domain."""

from __future__ import annotations

import asyncio
from datetime import datetime

from resolvers.selection import selected_subfields
from schema.context import Info
from schema.types.workers import Worker, WorkerStatus
from src.collector.workers_registry import WorkerRecord, read_workers
from src.control.inspector import InspectKind, InspectReply
from src.workers import kinds_for


async def _replies(info: Info) -> dict[InspectKind, InspectReply]:
    """One broadcast per inspect kind the selection needs, fetched concurrently."""
    kinds = sorted(kinds_for(selected_subfields(info)))
    replies = await asyncio.gather(*(info.context.view.reply(kind) for kind in kinds))
    return dict(zip(kinds, replies, strict=True))


async def _registry(info: Info) -> dict[str, WorkerRecord]:
    """The collector's worker registry (heartbeats), shared by every replica through Redis."""
    return await read_workers(info.context.services.state_redis)


def _heartbeat(registry: dict[str, WorkerRecord], hostname: str) -> datetime | None:
    record = registry.get(hostname)
    return record.last_heartbeat if record else None


async def workers(info: Info, status: WorkerStatus = WorkerStatus.ONLINE) -> list[Worker]:
    """Workers answering now; OFFLINE/ALL add workers seen recently that no longer answer or
    whose heartbeats stopped (from the collector's worker registry)."""
    replies, registry = await asyncio.gather(_replies(info), _registry(info))
    online = sorted(replies[InspectKind.STATS].replies)
    result = [Worker.build(h, True, replies, heartbeat=_heartbeat(registry, h)) for h in online]
    if status is WorkerStatus.ONLINE:
        return result
    known = set(info.context.services.inspector.recently_seen()) | set(registry)
    offline = sorted(known - set(online))
    gone = [Worker.build(h, False, {}, heartbeat=_heartbeat(registry, h)) for h in offline]
    return gone if status is WorkerStatus.OFFLINE else result + gone


async def worker(info: Info, hostname: str) -> Worker | None:
    """One worker by hostname; null when no worker of that name answers or was seen."""
    replies, registry = await asyncio.gather(_replies(info), _registry(info))
    heartbeat = _heartbeat(registry, hostname)
    if hostname in replies[InspectKind.STATS].replies:
        return Worker.build(hostname, True, replies, heartbeat=heartbeat)
    if hostname in info.context.services.inspector.recently_seen() or hostname in registry:
        return Worker.build(hostname, False, {}, heartbeat=heartbeat)
    return None


__all__ = ["worker", "workers"]
