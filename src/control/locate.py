"""Finding a task by id wherever it is known: task history, result backend, workers, queues.

Control commands must refuse an id nobody knows (a typo would otherwise "succeed" silently), and
retry needs the exact original call. Each source is asked in turn, cheapest first; each is bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu.exceptions import ContentDisallowed, DecodeError

from src.control.broadcast import Controller
from src.control.inspector import InspectKind, Inspector
from src.errors import AppError, NotFound
from src.queues.catalog import QueueCatalog
from src.task_store.query import TaskStore
from src.workers.replies import task_requests

log = logging.getLogger(__name__)


def opaque_note(exc: Exception) -> str:
    """Why a stored call or result is shown as opaque (the refused content type, in words)."""
    return (
        "stored in a serialization celery-admin never decodes (only JSON is read from the "
        f"broker and the result backend: {type(exc).__name__}); shown as opaque"
    )


@dataclass(frozen=True, slots=True)
class TaskLocation:
    task_id: str
    found_in: str  # database, result_backend, worker, queue
    name: str | None = None
    state: str | None = None
    queue: str | None = None
    worker: str | None = None
    worker_pid: int | None = None
    args: list[Any] | None = None  # exact, when known
    kwargs: dict[str, Any] | None = None  # exact, when known
    args_note: str | None = None  # why the stored call is not exact (redacted, too large, ...)
    # Why the exact call cannot be known, when a source holds it in a form never decoded here
    # (pickle, YAML: only JSON is read from the broker, see src/cluster.py).
    opaque: str | None = None

    @property
    def call_known(self) -> bool:
        return self.name is not None and self.args is not None and self.kwargs is not None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "found_in": self.found_in,
            "name": self.name,
            "state": self.state,
            "queue": self.queue,
            "worker": self.worker,
            "worker_pid": self.worker_pid,
        }


class TaskLocator:
    def __init__(
        self,
        app: Celery,
        inspector: Inspector,
        controller: Controller,
        queues: QueueCatalog,
        tasks: TaskStore,
    ) -> None:
        self.app = app
        self.inspector = inspector
        self.controller = controller
        self.queues = queues
        self.tasks = tasks

    async def find(self, task_id: str) -> TaskLocation:
        """Where the task is known; NOT_FOUND when nowhere."""
        task_id = task_id.strip()
        if not task_id or len(task_id) > 255:
            raise NotFound(f"unknown task {task_id!r}", field="id")
        found: list[TaskLocation] = []
        for source in (self._on_worker, self._in_database, self._in_backend, self._in_queue):
            try:
                location = await source(task_id)
            except AppError:
                location = None
            except Exception as exc:  # one source down must not hide the others
                log.info("task lookup in %s failed: %s", source.__name__, exc)
                location = None
            if location is not None:
                found.append(location)
                if location.call_known or location.found_in == "worker":
                    break
        if not found:
            raise NotFound(
                f"unknown task {task_id!r}: no worker, queue or record has it", field="id"
            )
        return _merge(found)

    async def _on_worker(self, task_id: str) -> TaskLocation | None:
        kinds = (InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.SCHEDULED)
        # Every worker, even one this process has not seen yet: asked at once, one timeout.
        replies = await asyncio.gather(*(self.controller.call(kind.value) for kind in kinds))
        for kind, reply in zip(kinds, replies, strict=True):
            for hostname, tasks in reply.items():
                for request in task_requests(tasks):
                    if request.id == task_id:
                        args, kwargs = request.args, request.kwargs
                        return TaskLocation(
                            task_id,
                            "worker",
                            name=request.name,
                            state="STARTED" if kind is InspectKind.ACTIVE else "RECEIVED",
                            queue=request.queue,
                            worker=hostname,
                            worker_pid=request.worker_pid,
                            args=list(args) if isinstance(args, list | tuple) else None,
                            kwargs=dict(kwargs) if isinstance(kwargs, dict) else None,
                        )
        return None

    async def _in_database(self, task_id: str) -> TaskLocation | None:
        row = await self.tasks.get(task_id)  # the database away: an AppError, skipped by find()
        if row is None:
            return None
        # Recorded by celery_admin_events: only an `exact` call is re-sent (a redacted one holds
        # masks, not the values). Rows written before the status existed carry none.
        exact = row.args_status in (None, "exact")
        return TaskLocation(
            task_id,
            "database",
            name=row.name,
            state=row.state,
            queue=row.queue,
            worker=row.worker,
            args=list(row.args_json) if exact and isinstance(row.args_json, list) else None,
            kwargs=dict(row.kwargs_json) if exact and isinstance(row.kwargs_json, dict) else None,
            args_note=None if exact else f"{row.args_status}: {row.args_note or ''}".rstrip(": "),
        )

    async def _in_backend(self, task_id: str) -> TaskLocation | None:
        if not self.app.conf.result_backend:
            return None
        loop = asyncio.get_running_loop()
        try:
            meta: dict[str, Any] = await loop.run_in_executor(
                self.inspector.executor, self.app.backend.get_task_meta, task_id
            )
        except (ContentDisallowed, DecodeError) as exc:  # pickle, YAML, ...: never decoded
            return TaskLocation(task_id, "result_backend", opaque=opaque_note(exc))
        if not meta or (meta.get("status") == "PENDING" and not meta.get("name")):
            return None  # Celery's answer for "never heard of it"
        args, kwargs = meta.get("args"), meta.get("kwargs")
        return TaskLocation(
            task_id,
            "result_backend",
            name=meta.get("name"),
            state=meta.get("status"),
            queue=meta.get("queue"),
            worker=meta.get("worker"),
            args=list(args) if isinstance(args, list | tuple) else None,
            kwargs=dict(kwargs) if isinstance(kwargs, dict) else None,
        )

    async def _in_queue(self, task_id: str) -> TaskLocation | None:
        names = sorted(await self.queues.names())
        async for name, raw in self.queues.backend.scan(names, task_id.encode()):
            try:
                headers = json.loads(raw).get("headers") or {}
            except (ValueError, AttributeError):
                continue
            if headers.get("id") == task_id:
                return TaskLocation(task_id, "queue", name=headers.get("task"), queue=name)
        return None


def _merge(found: list[TaskLocation]) -> TaskLocation:
    """The first location, completed with what later sources knew (e.g. exact args)."""
    first = found[0]
    merged: dict[str, Any] = dict(
        name=first.name,
        state=first.state,
        queue=first.queue,
        worker=first.worker,
        worker_pid=first.worker_pid,
        args=first.args,
        kwargs=first.kwargs,
        args_note=first.args_note,
    )
    merged["opaque"] = next((f.opaque for f in found if f.opaque), None)
    for other in found[1:]:
        for key in ("name", "queue", "worker"):
            if merged[key] is None:
                merged[key] = getattr(other, key)
        if (merged["args"] is None or merged["kwargs"] is None) and other.call_known:
            merged["args"], merged["kwargs"] = other.args, other.kwargs
        merged["args_note"] = merged["args_note"] or other.args_note
    return TaskLocation(first.task_id, first.found_in, **merged)


__all__ = ["TaskLocation", "TaskLocator"]
