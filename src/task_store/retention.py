"""Task-history retention: keep rows for `tasks.retention_days` and at most
`tasks.retention_max_rows` rows, pruning the oldest (by `seen_at`) in the background.

Deletes go in small batches, each its own short transaction keyed by the `(seen_at, task_id)`
index, with a pause between batches, so the collector's upserts and the queries never wait long on
a lock. One process of the deployment prunes (`Services.run_as_leader("task-retention", ...)`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import delete, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from src.db.models.base import utcnow
from src.db.models.tasks import TaskRecord
from src.system_config import ConfigStore, declare
from src.task_store.db import database_errors

T = TaskRecord
log = logging.getLogger(__name__)

RETENTION_DAYS = declare(
    "tasks.retention_days",
    Annotated[int, Field(ge=0, le=3650)],
    30,
    "Days task history is kept (by when the task was first seen); 0 keeps it forever.",
)
RETENTION_MAX_ROWS = declare(
    "tasks.retention_max_rows",
    Annotated[int, Field(ge=0)],
    5_000_000,
    "Most task rows kept; the oldest beyond it are pruned. 0: no cap.",
)

PRUNE_INTERVAL = 300.0  # seconds between pruning rounds
FIRST_DELAY = 30.0  # let start-up (reconciliation, first queries) settle first
BATCH_SIZE = 1000
BATCH_PAUSE = 0.05  # seconds between batches, so other writers get the table
MAX_BATCHES_PER_ROUND = 2000


class TaskRetention:
    def __init__(
        self,
        engine: AsyncEngine,
        config: ConfigStore,
        *,
        batch_size: int = BATCH_SIZE,
        batch_pause: float = BATCH_PAUSE,
        interval: float = PRUNE_INTERVAL,
        first_delay: float = FIRST_DELAY,
    ) -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
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
        with database_errors("retention"):
            async with self.sessions() as session:
                if (await session.connection()).dialect.name == "postgresql":
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
            with database_errors("retention"):
                async with self.sessions() as session, session.begin():
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
