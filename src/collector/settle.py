"""Settling tasks whose end was never seen, so none stays STARTED or RECEIVED forever.

A gap in the events (pub/sub while no collector listened, a stream entry that fell off its cap)
can leave a task's last stored state non-terminal although its worker finished it long ago. Each
round (run by the collector's leader job every `interval` seconds) takes at most `batch` tasks
stored as STARTED or RECEIVED with no news for `after` seconds, and asks the workers what they
hold (`inspect active/reserved/scheduled`, through the shared inspector). A task no live worker
holds, whose own worker answered, is:

- settled from the result backend when it knows the outcome (a synthetic event through the normal
  merge, so anything better that arrives later still wins), else
- marked UNKNOWN ("end not seen"): ranked like STARTED, so a late real end still replaces it.

Tasks whose worker did not answer are left to the heartbeat tracker (offline: LOST). A round
where any inspect kind fails does nothing: without every reply, absence proves nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.intake import Item
from src.collector.reconcile import meta_event
from src.control.inspector import InspectKind, Inspector
from src.db.models.tasks import TaskRecord

log = logging.getLogger(__name__)

UNKNOWN = "UNKNOWN"
OPEN_STATES = ("STARTED", "RECEIVED")
BACKEND_FINAL = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


class Sink(Protocol):
    async def handle_batches(self, batches: list[Item]) -> None: ...


class Settler:
    def __init__(
        self,
        engine: AsyncEngine,
        inspector: Inspector,
        app: Any = None,
        *,
        interval: float = 60.0,
        after: float = 120.0,
        batch: int = 500,
    ) -> None:
        self.engine = engine
        self.inspector = inspector
        self.app = app
        self.interval = interval
        self.after = after
        self.batch = batch
        self.rounds = 0
        self.from_backend = 0
        self.unknown = 0
        self.last_round_at: float | None = None

    async def run(self, sink: Sink) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.settle_once(sink)
            except Exception as exc:
                log.info("settling skipped: %s", exc)

    async def settle_once(self, sink: Sink, *, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        cutoff = datetime.fromtimestamp(now - self.after, UTC)
        rows = await self._stale(cutoff)
        self.rounds += 1
        self.last_round_at = now
        if not rows:
            return {"checked": 0, "from_backend": 0, "unknown": 0}
        held, answered = await self._held()
        vanished = [(tid, w) for tid, w in rows if tid not in held and w in answered]
        events: list[dict[str, Any]] = []
        unknown: list[str] = []
        for task_id, _worker in vanished:
            meta = await self._meta(task_id)
            event = meta_event(meta, now) if meta and meta.get("status") in BACKEND_FINAL else None
            if event is not None:
                events.append(event)
            else:
                unknown.append(task_id)
        if events:
            await sink.handle_batches([events])
        marked = await self._mark_unknown(unknown, cutoff, now) if unknown else 0
        self.from_backend += len(events)
        self.unknown += marked
        if events or marked:
            log.info("settled %d task(s) from results, %d marked UNKNOWN", len(events), marked)
        return {"checked": len(rows), "from_backend": len(events), "unknown": marked}

    async def _stale(self, cutoff: datetime) -> list[tuple[str, str | None]]:
        stmt = (
            select(TaskRecord.task_id, TaskRecord.worker)
            .where(and_(TaskRecord.state.in_(OPEN_STATES), TaskRecord.last_event_at <= cutoff))
            .order_by(TaskRecord.last_event_at)
            .limit(self.batch)
        )
        async with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in await conn.execute(stmt)]

    async def _held(self) -> tuple[set[str], set[str]]:
        """Ids every live worker holds, and the workers that answered all three kinds."""
        held: set[str] = set()
        answered: set[str] | None = None
        for kind in (InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.SCHEDULED):
            reply = await self.inspector.get(kind, max_age=0)  # raises: the round is skipped
            replies = reply.replies or {}
            hosts = set(replies)
            answered = hosts if answered is None else answered & hosts
            for tasks in replies.values():
                for raw in tasks or []:
                    request = raw.get("request") or raw if kind is InspectKind.SCHEDULED else raw
                    if isinstance(request, dict) and request.get("id"):
                        held.add(str(request["id"]))
        return held, answered or set()

    async def _meta(self, task_id: str) -> dict[str, Any] | None:
        if self.app is None or not self.app.conf.result_backend:
            return None
        loop = asyncio.get_running_loop()
        try:
            meta: dict[str, Any] = await asyncio.wait_for(
                loop.run_in_executor(
                    self.inspector.executor, self.app.backend.get_task_meta, task_id
                ),
                timeout=5.0,
            )
        except Exception:
            return None
        return dict(meta, task_id=task_id) if meta else None

    async def _mark_unknown(self, ids: list[str], cutoff: datetime, now: float) -> int:
        when = datetime.fromtimestamp(now, UTC)
        stmt = (
            update(TaskRecord)
            .where(
                and_(
                    TaskRecord.task_id.in_(ids),
                    TaskRecord.state.in_(OPEN_STATES),
                    TaskRecord.last_event_at <= cutoff,  # nothing arrived meanwhile
                )
            )
            .values(state=UNKNOWN, last_event_at=when)
            .execution_options(synchronize_session=False)
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
            return int(result.rowcount or 0)

    def status(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "from_backend": self.from_backend,
            "unknown": self.unknown,
            "last_round_at": self.last_round_at,
        }


__all__ = ["UNKNOWN", "Settler"]
