"""Root fields of the workers domain."""

from __future__ import annotations

from datetime import datetime

from schema.context import Info
from schema.types.workers import Worker, WorkerStatus
from src.collector.workers_registry import WorkerRecord, read_workers


async def _registry(info: Info) -> dict[str, WorkerRecord]:
    return await read_workers(info.context.services.state_redis)


async def workers(info: Info, status: WorkerStatus = WorkerStatus.ONLINE) -> list[Worker]:
    """Workers answering now; OFFLINE/ALL add workers seen recently that no longer answer or
    whose heartbeats stopped (from the collector's worker registry)."""
    online = await info.context.view.hostnames()
    registry = await _registry(info)

    def beat(hostname: str) -> datetime | None:
        record = registry.get(hostname)
        return record.last_heartbeat if record else None

    result = [Worker(hostname=h, online=True, heartbeat=beat(h)) for h in online]
    if status is WorkerStatus.ONLINE:
        return result
    known = set(info.context.services.inspector.recently_seen()) | set(registry)
    offline = sorted(known - set(online))
    gone = [Worker(hostname=h, online=False, heartbeat=beat(h)) for h in offline]
    return gone if status is WorkerStatus.OFFLINE else result + gone


async def worker(info: Info, hostname: str) -> Worker | None:
    """One worker by hostname; null when no worker of that name answers or was seen."""
    registry = await _registry(info)
    record = registry.get(hostname)
    heartbeat = record.last_heartbeat if record else None
    if hostname in await info.context.view.hostnames():
        return Worker(hostname=hostname, online=True, heartbeat=heartbeat)
    if hostname in info.context.services.inspector.recently_seen() or record is not None:
        return Worker(hostname=hostname, online=False, heartbeat=heartbeat)
    return None


__all__ = ["worker", "workers"]
