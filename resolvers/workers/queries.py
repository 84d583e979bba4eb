"""Root fields of the workers domain: `workers(status)` and `worker(hostname)`."""

from __future__ import annotations

import asyncio
from datetime import datetime

from schema.core.context import Info
from schema.core.fields import On, query
from schema.core.selection import selected_subfields
from schema.workers.types import Worker, WorkerStatus, kinds_for
from src.auth.roles import Role
from src.collector.workers_registry import WorkerRecord
from src.control.inspector import InspectKind, InspectReply


async def _replies(info: Info) -> dict[InspectKind, InspectReply]:
    """One broadcast per inspect kind the selection needs, fetched concurrently."""
    kinds = sorted(kinds_for(selected_subfields(info)))
    replies = await asyncio.gather(*(info.context.view.reply(kind) for kind in kinds))
    return dict(zip(kinds, replies, strict=True))


def _heartbeat(registry: dict[str, WorkerRecord], hostname: str) -> datetime | None:
    record = registry.get(hostname)
    return record.last_heartbeat if record else None


def _in_scope(info: Info, found: list[Worker]) -> list[Worker]:
    """For a scoped caller (src/auth/access.py): only its workers, holding only its tasks."""
    scope = info.context.task_scope
    if scope is None:
        return found
    kept = [w for w in found if scope.allows_worker(w.hostname)]
    for w in kept:
        for kind in ("active_tasks", "reserved_tasks", "scheduled_tasks"):
            tasks = getattr(w, kind)
            setattr(w, kind, [t for t in tasks if scope.allows_task(vars(t))])
        w.revoked = []  # bare ids: not resolvable to a scope here
    return kept


@query(Role.VIEWER)
async def workers(info: Info, status: WorkerStatus = WorkerStatus.ONLINE) -> list[Worker]:
    """Workers answering now; OFFLINE/ALL add workers seen recently that no longer answer or
    whose heartbeats stopped (from the collector's worker registry)."""
    directory = info.context.workers
    replies, registry = await asyncio.gather(_replies(info), directory.registry())
    online = sorted(replies[InspectKind.STATS].replies)
    result = [Worker.build(h, True, replies, heartbeat=_heartbeat(registry, h)) for h in online]
    if status is WorkerStatus.ONLINE:
        return _in_scope(info, result)
    offline = sorted((directory.recently_seen() | set(registry)) - set(online))
    gone = [Worker.build(h, False, {}, heartbeat=_heartbeat(registry, h)) for h in offline]
    return _in_scope(info, gone if status is WorkerStatus.OFFLINE else result + gone)


@query(Role.VIEWER, on=On(workers="hostname"))
async def worker(info: Info, hostname: str) -> Worker | None:
    """One worker by hostname; null when no worker of that name answers or was seen."""
    directory = info.context.workers
    replies, registry = await asyncio.gather(_replies(info), directory.registry())
    heartbeat = _heartbeat(registry, hostname)
    if hostname in replies[InspectKind.STATS].replies:
        return _in_scope(info, [Worker.build(hostname, True, replies, heartbeat=heartbeat)])[0]
    if hostname in directory.recently_seen() or hostname in registry:
        return Worker.build(hostname, False, {}, heartbeat=heartbeat)
    return None


__all__ = ["worker", "workers"]
