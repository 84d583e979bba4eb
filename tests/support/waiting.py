"""Awaiting a condition in tests: poll with a generous deadline instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def fresh_window(min_left: float = 15.0, window: float = 60.0) -> None:
    """Rate budgets count in fixed windows (one minute): a test that needs one window starts
    where at least `min_left` seconds of it remain (at a window's turn every count starts again)."""
    left = window - time.time() % window
    if left < min_left:
        await asyncio.sleep(left + 0.05)


__all__ = ["eventually", "fresh_window"]
