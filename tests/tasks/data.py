"""Deterministic task rows for the task-store tests, written straight through the model."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from src.db.models.tasks import TaskRecord

BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NAMES = ("app.add", "app.mul", "app.fetch", "app.report")
QUEUES = ("ai_analysis", "maintenance", "health")
WORKERS = ("alpha@tests", "beta@tests", None)
STATES = ("SUCCESS", "FAILURE", "STARTED", "RECEIVED", "RETRY", "REVOKED", "PENDING")
EXCEPTIONS = ("ValueError('bad value')", "KeyError('x')", "TimeoutError()")


def rows(
    n: int = 120, *, seed: int = 7, base: datetime = BASE, prefix: str = "t"
) -> list[dict[str, Any]]:
    """`n` varied rows: nulls in every nullable sort column, ties in seen_at and runtime,
    LIKE wildcards and mixed case in the text fields, parents and roots."""
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        state = STATES[i % len(STATES)]
        seen = base + timedelta(seconds=(i // 3) * 7)  # three rows share each seen_at
        received = None if i % 11 == 0 else seen + timedelta(milliseconds=rnd.randint(1, 900))
        started = (
            received + timedelta(milliseconds=rnd.randint(1, 500))
            if received and state not in ("RECEIVED", "PENDING")
            else None
        )
        finished = (
            started + timedelta(seconds=rnd.choice((0.5, 1.0, 2.25, 3.0)))
            if started and state in ("SUCCESS", "FAILURE", "REVOKED")
            else None
        )
        runtime = (finished - started).total_seconds() if finished and started else None
        exception = EXCEPTIONS[i % 3] if state in ("FAILURE", "RETRY") else None
        parent = f"{prefix}{i // 10:04d}" if i % 10 and i >= 10 else None
        out.append(
            {
                "task_id": f"{prefix}{i:04d}",
                "name": NAMES[i % len(NAMES)],
                "state": state,
                "queue": QUEUES[i % len(QUEUES)],
                "worker": WORKERS[i % len(WORKERS)],
                "args": f"({i}, 'Item_{i % 5}')" if i % 4 else "('100%', 'MiXeD')",
                "kwargs": f"{{'user': 'u{i % 6}'}}",
                "result": f"'ok {i}'" if state == "SUCCESS" else None,
                "exception": exception,
                "traceback": f"Traceback ...\n{exception}" if exception else None,
                "retries": i % 4,
                "eta": seen + timedelta(minutes=5) if i % 9 == 0 else None,
                "expires": seen + timedelta(hours=1) if i % 8 == 0 else None,
                "sent_at": seen,
                "received_at": received,
                "started_at": started,
                "succeeded_at": finished if state == "SUCCESS" else None,
                "failed_at": finished if state == "FAILURE" else None,
                "revoked_at": finished if state == "REVOKED" else None,
                "finished_at": finished,
                "runtime": runtime,
                "parent_id": parent,
                "root_id": f"{prefix}0000" if parent else None,
                "last_event_at": finished or started or received or seen,
                "seen_at": seen,
            }
        )
    return out


async def insert_rows(engine: AsyncEngine, data: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(TaskRecord), data)


__all__ = ["BASE", "insert_rows", "rows"]
