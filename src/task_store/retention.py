"""Task-history retention: keep rows for `tasks.retention_days` and at most
`tasks.retention_max_rows` rows, pruning the oldest (by `seen_at`) in the background.

Deletes go in small batches, each its own short transaction keyed by the `(seen_at, task_id)`
index, with a pause between batches, so the collector's upserts and the queries never wait long on
a lock. One process of the deployment prunes (a leader job, see src/runtime.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, literal, select, text, tuple_

from src.db.models.base import utcnow
from src.db.models.tasks import TaskRecord
from src.db.session import Database
from src.system.config import ConfigStore, declare_number

T = TaskRecord
log = logging.getLogger(__name__)

RETENTION_DAYS = declare_number(
    "tasks.retention_days",
    30,
    "Days task history is kept (by when the task was first seen); 0 keeps it forever.",
    ge=0,
    le=3650,
)
RETENTION_MAX_ROWS = declare_number(
    "tasks.retention_max_rows",
    5_000_000,
    "Most task rows kept; the oldest beyond it are pruned. 0: no cap.",
    ge=0,
)

PRUNE_INTERVAL = 300.0  # seconds between pruning rounds
FIRST_DELAY = 30.0  # let start-up (reconciliation, first queries) settle first
BATCH_SIZE = 1000
BATCH_PAUSE = 0.05  # seconds between batches, so other writers get the table
MAX_BATCHES_PER_ROUND = 2000
CAP_SECONDS = 60.0  # finding the row-cap boundary walks up to max_rows index entries


class TaskRetention:
    def __init__(
        self,
        db: Database,
        config: ConfigStore,
        *,
        batch_size: int = BATCH_SIZE,
        batch_pause: float = BATCH_PAUSE,
        interval: float = PRUNE_INTERVAL,
        first_delay: float = FIRST_DELAY,
    ) -> None:
        self.db = db
        self.config = config
        self.batch_size = batch_size
        self.batch_pause = batch_pause
        self.interval = interval
        self.first_delay = first_delay

    async def prune_once(self, *, now: datetime | None = None) -> int:
        """One round: delete rows past the age limit, then the oldest beyond the row cap.
        Returns how many rows were deleted."""
        days = int(await self.config.get(RETENTION_DAYS.name))
        max_rows = int(await self.config.get(RETENTION_MAX_ROWS.name))
        deleted = 0
        if days > 0:
            cutoff = (now or utcnow()) - timedelta(days=days)
            deleted += await self._delete_through(T.seen_at < cutoff)
        if max_rows > 0:
            boundary = await self._cap_boundary(max_rows)
            if boundary is not None:
                mark = tuple_(literal(boundary[0], T.seen_at.type), literal(boundary[1]))
                deleted += await self._delete_through(tuple_(T.seen_at, T.task_id) <= mark)
        if deleted:
            log.info("task retention pruned %d rows", deleted)
        return deleted

    async def _cap_boundary(self, max_rows: int) -> tuple[datetime, str] | None:
        """The newest row beyond the cap (everything at or before it goes), or None."""
        stmt = (
            select(T.seen_at, T.task_id)
            .order_by(T.seen_at.desc(), T.task_id.desc())
            .offset(max_rows)
            .limit(1)
        )
        async with self.db.session("retention", seconds=CAP_SECONDS) as session:
            if self.db.dialect == "postgresql":
                # Skip the walk over max_rows index entries while the planner's estimate
                # says the table is clearly under the cap (-1: never analysed; walk then).
                estimate = (
                    await session.execute(
                        text("SELECT reltuples FROM pg_class WHERE relname = :t"),
                        {"t": T.__tablename__},
                    )
                ).scalar()
                if estimate is not None and 0 <= estimate < max_rows * 0.9:
                    return None
            row = (await session.execute(stmt)).first()
        return (row[0], row[1]) if row is not None else None

    async def _delete_through(self, condition: Any) -> int:
        total = 0
        for _ in range(MAX_BATCHES_PER_ROUND):
            victims = (
                select(T.task_id)
                .where(condition)
                .order_by(T.seen_at.asc(), T.task_id.asc())
                .limit(self.batch_size)
            )
            async with self.db.session("retention") as session:
                result: Any = await session.execute(
                    delete(T)
                    .where(T.task_id.in_(victims.scalar_subquery()))
                    .execution_options(synchronize_session=False)
                )
            count = int(result.rowcount or 0)
            total += count
            if count < self.batch_size:
                break
            await asyncio.sleep(self.batch_pause)
        return total

    async def run(self) -> None:
        """Prune now and then, for the life of the process; failures are logged, not fatal."""
        await asyncio.sleep(self.first_delay)
        while True:
            try:
                await self.prune_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("task retention round failed: %s", exc)
            await asyncio.sleep(self.interval)


__all__ = ["RETENTION_DAYS", "RETENTION_MAX_ROWS", "TaskRetention"]
