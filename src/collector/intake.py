"""The bounded, thread-safe hand-off from a reader thread to the event loop.

The reader must never wait (Redis drops a pub/sub subscriber that falls 32 MB behind), so `put`
never blocks: when the loop is that far behind, the batch is dropped and counted instead. Items
are lists of decoded events (kombu path) or raw socket chunks (direct Redis path: decoding them
costs far more than reading them, so it happens on the loop's side, and the reader can drain
Redis's buffer at socket speed during a burst). Both are bounded: events by count, raw chunks by
bytes. The loop is woken with `call_soon_threadsafe` only when it is actually waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

Event = dict[str, Any]
Item = list[Event] | bytes


class Intake:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_events: int = 500_000,
        max_bytes: int = 256 << 20,
    ) -> None:
        self.loop = loop
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._batches: deque[Item] = deque()
        self._size = 0
        self._bytes = 0
        self.dropped_bytes = 0
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

    def put_raw(self, chunk: bytes) -> bool:
        """From the reader thread: raw bytes to decode on the loop; False when over budget."""
        with self._lock:
            if self._bytes + len(chunk) > self.max_bytes:
                self.dropped_bytes += len(chunk)
                return False
            self._batches.append(chunk)
            self._bytes += len(chunk)
            waiter = self._waiter
            self._waiter = None
        if waiter is not None:
            self.loop.call_soon_threadsafe(_wake, waiter)
        return True

    async def get(self, max_items: int = 64) -> list[Item]:
        """Up to `max_items` waiting items, oldest first; waits for at least one."""
        while True:
            with self._lock:
                if self._batches:
                    batches = self._batches
                    items = [batches.popleft() for _ in range(min(max_items, len(batches)))]
                    for item in items:
                        if item.__class__ is bytes:
                            self._bytes -= len(item)
                        else:
                            self._size -= len(item)
                    return items
                waiter = self._waiter = self.loop.create_future()
            await waiter

    def qsize(self) -> int:
        """Items waiting (event batches and raw chunks)."""
        return len(self._batches)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


__all__ = ["Event", "Intake", "Item"]
