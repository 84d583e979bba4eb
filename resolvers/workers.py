"""Root fields of the workers domain."""

from __future__ import annotations

from schema.context import Info
from schema.types.workers import Worker, WorkerStatus


async def workers(info: Info, status: WorkerStatus = WorkerStatus.ONLINE) -> list[Worker]:
    """Workers answering now; OFFLINE/ALL add workers seen recently that no longer answer."""
    online = await info.context.view.hostnames()
    result = [Worker(hostname=h, online=True) for h in online]
    if status is WorkerStatus.ONLINE:
        return result
    offline = sorted(set(info.context.services.inspector.recently_seen()) - set(online))
    gone = [Worker(hostname=h, online=False) for h in offline]
    return gone if status is WorkerStatus.OFFLINE else result + gone


async def worker(info: Info, hostname: str) -> Worker | None:
    """One worker by hostname; null when no worker of that name answers or was seen."""
    if hostname in await info.context.view.hostnames():
        return Worker(hostname=hostname, online=True)
    if hostname in info.context.services.inspector.recently_seen():
        return Worker(hostname=hostname, online=False)
    return None


__all__ = ["worker", "workers"]
