"""The database goes away: the collector keeps merging into its bounded buffer, reports itself
degraded, and writes everything once the database is back."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.collector import Collector
from src.collector.store import TaskStore
from src.db.engine import create_engine
from tests.collector.events import lifecycle
from tests.collector.support import fetch_rows

T0 = 1_700_000_000.0


async def test_buffered_while_the_database_is_down(database_url: str) -> None:
    dead: AsyncEngine = create_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    good = create_engine(database_url)
    collector = Collector(engine=dead, max_pending=3)
    ids = [f"down-{uuid.uuid4()}" for _ in range(4)]
    try:
        await collector.handle_batches([lifecycle(ids[0], T0)[:2], lifecycle(ids[1], T0)])
        assert await collector.flush() is False
        assert collector.degraded and collector.status()["degraded"] is True
        assert collector.last_error
        assert len(collector.merger) == 2  # nothing lost by the failed write

        # More events while down: pending tasks keep merging, new ones up to the cap.
        await collector.handle_batches(
            [lifecycle(ids[0], T0)[2:], lifecycle(ids[2], T0), lifecycle(ids[3], T0)]
        )
        assert len(collector.merger) == 3 and collector.merger.overflow_dropped == 4

        collector.store = TaskStore(good)  # the database is back
        assert await collector.flush() is True and not collector.degraded
        rows = await fetch_rows(good, ids)
        assert {k: v.state for k, v in rows.items()} == {
            ids[0]: "SUCCESS",
            ids[1]: "SUCCESS",
            ids[2]: "SUCCESS",
        }
        assert rows[ids[0]].sent_at is not None and rows[ids[0]].runtime == 0.9
    finally:
        await dead.dispose()
        await good.dispose()
