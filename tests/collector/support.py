"""Helpers for collector tests: polling the task table with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from src.db.models.tasks import TaskRecord


async def fetch_rows(engine: AsyncEngine, ids: list[str]) -> dict[str, Any]:
    async with engine.connect() as conn:
        result = await conn.execute(select(TaskRecord).where(TaskRecord.task_id.in_(ids)))
        return {row.task_id: row for row in result}


async def wait_rows(
    engine: AsyncEngine,
    ids: list[str],
    done: Callable[[dict[str, Any]], bool],
    within: float = 90.0,
) -> dict[str, Any]:
    """Poll until `done(rows)`; the last rows either way (the caller asserts on them)."""
    deadline = time.monotonic() + within
    while True:
        rows = await fetch_rows(engine, ids)
        if done(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


async def wait_for(condition: Callable[[], bool], within: float = 90.0) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def states(rows: dict[str, Any]) -> dict[str, str]:
    return {k: v.state for k, v in rows.items()}


__all__ = ["fetch_rows", "states", "wait_for", "wait_rows"]
