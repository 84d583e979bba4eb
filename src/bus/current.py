"""The current state a subscription starts with, read from the workers' inspect replies.

`workerEvents` starts with every worker that answers (and those seen recently that no longer do);
`taskEvents` with the tasks running right now that pass its filter. When the broker does not
answer, a subscription starts with nothing rather than failing: the changes still follow.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from src.bus.payloads import TaskChange, WorkerChange, task_fields, to_datetime
from src.control.inspector import InspectKind, Inspector
from src.errors import AppError
from src.task_filter import TaskFilter, TaskState
from src.workers.replies import TaskRequest, parse_stats, task_requests

log = logging.getLogger(__name__)

CURRENT_TASK = "task.current"
CURRENT_WORKER = "worker.current"


async def current_workers(inspector: Inspector, hostname: str | None = None) -> list[WorkerChange]:
    try:
        reply = await inspector.get(InspectKind.STATS)
    except AppError as exc:
        log.info("workerEvents starts without current state: %s", exc)
        return []
    now = datetime.now(UTC)
    online = sorted(reply.replies)
    offline = sorted(set(inspector.recently_seen()) - set(online))
    changes = [
        WorkerChange(CURRENT_WORKER, now, h, True, _worker_data(h, reply.replies[h]))
        for h in online
    ] + [WorkerChange(CURRENT_WORKER, now, h, False, {"hostname": h}) for h in offline]
    return [c for c in changes if hostname is None or c.hostname == hostname]


def _worker_data(hostname: str, raw: Any) -> dict[str, Any]:
    stats = parse_stats(raw)
    return {
        "hostname": hostname,
        "pid": stats.pid if stats else None,
        "processed": (stats.processed_total or 0) if stats else 0,
        "loadavg": stats.loadavg if stats else None,
    }


async def current_tasks(inspector: Inspector, task_filter: TaskFilter) -> list[TaskChange]:
    try:
        reply = await inspector.get(InspectKind.ACTIVE)
    except AppError as exc:
        log.info("taskEvents starts without current state: %s", exc)
        return []
    now = datetime.now(UTC)
    changes = []
    for hostname, tasks in sorted(reply.replies.items()):
        for request in task_requests(tasks):
            fields = task_fields(_active_task(hostname, request))
            if task_filter.matches(fields):
                changes.append(TaskChange(CURRENT_TASK, now, fields))
    return changes


def _active_task(hostname: str, request: TaskRequest) -> dict[str, Any]:
    return {
        "task_id": request.id,
        "name": request.name,
        "state": TaskState.STARTED.value,
        "queue": request.queue,
        "worker": hostname,
        "args": _text(request.args),
        "kwargs": _text(request.kwargs),
        "started_at": to_datetime(request.time_start),
        "retries": request.retries,
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


__all__ = ["CURRENT_TASK", "CURRENT_WORKER", "current_tasks", "current_workers"]
