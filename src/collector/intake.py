"""The bounded, thread-safe hand-off from a reader thread to the event loop.

The reader must never wait (Redis drops a pub/sub subscriber that falls 32 MB behind), so `put`
never blocks: when the loop is that far behind, the batch is dropped and counted instead. Batches
travel as lists to keep the per-event cost of crossing threads near zero; the loop is woken with
`call_soon_threadsafe` only when it is actually waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

Event = dict[str, Any]


class Intake:
    def __init__(self, loop: asyncio.AbstractEventLoop, max_events: int = 500_000) -> None:
        self.loop = loop
        self.max_events = max_events
        self._batches: deque[list[Event]] = deque()
        self._size = 0
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self.received = 0
        self.dropped = 0

    def put(self, batch: list[Event]) -> bool:
        """From any thread; False (and counted) when the hand-off is full."""
        if not batch:
            return True
        with self._lock:
            if self._size + len(batch) > self.max_events:
                self.dropped += len(batch)
                return False
            self._batches.append(batch)
            self._size += len(batch)
            self.received += len(batch)
            waiter = self._waiter
            self._waiter = None
        if waiter is not None:
            self.loop.call_soon_threadsafe(_wake, waiter)
        return True

    async def get(self) -> list[list[Event]]:
        """All waiting batches; waits for at least one."""
        while True:
            with self._lock:
                if self._batches:
                    batches = list(self._batches)
                    self._batches.clear()
                    self._size = 0
                    return batches
                waiter = self._waiter = self.loop.create_future()
            await waiter

    def qsize(self) -> int:
        return self._size


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


__all__ = ["Event", "Intake"]
