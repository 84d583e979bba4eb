"""The bounded, thread-safe hand-off from a reader thread to the event loop.

The reader must never wait (Redis drops a pub/sub subscriber that falls 32 MB behind), so `put`
never blocks: when the loop is that far behind, the batch is dropped and counted instead. Items
are lists of decoded events (kombu path) or raw socket chunks (direct Redis path: decoding them
costs far more than reading them, so it happens on the loop's side, and the reader can drain
Redis's buffer at socket speed during a burst). Both are bounded: events by count, raw chunks by
bytes and by age (`max_delay`). The loop is woken with `call_soon_threadsafe` only when it is
actually waiting.

A raw chunk dropped for the budget is counted in pub/sub messages (its `pmessage` heads, stitched
across chunk boundaries, so a head cut between two dropped chunks counts once), and the next chunk
that is accepted is preceded by a `Dropped` marker: the stream is cut there, possibly mid-frame,
and the decoder must throw its partial frame away and resynchronise (see `PubSubDecoder`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from src.collector.resp import PMESSAGE_MARK

Event = dict[str, Any]
_MARK_TAIL = len(PMESSAGE_MARK) - 1


@dataclass(slots=True)
class Dropped:
    """Raw chunks were dropped here (from `started_at` to `ended_at`): the byte stream is cut."""

    started_at: float
    ended_at: float
    messages: int
    bytes: int


Item = list[Event] | bytes | Dropped


class Intake:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_events: int = 500_000,
        max_bytes: int = 256 << 20,
        max_delay: float | None = 5.0,
    ) -> None:
        self.loop = loop
        self.max_events = max_events
        self.max_bytes = max_bytes
        # A backlog older than this is not kept growing: after an overload the collector is
        # caught up within about this long, instead of tens of seconds behind (it counts what
        # it drops, and reconciles). None: only the byte budget.
        self.max_delay = max_delay
        self._raw_times: deque[float] = deque()  # arrival of each raw chunk waiting
        self._batches: deque[Item] = deque()
        self._size = 0
        self._bytes = 0
        self.dropped_bytes = 0
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self.received = 0
        self.dropped = 0  # events, from event batches (kombu path)
        self.dropped_messages = 0  # pub/sub messages, from raw chunks (direct Redis path)
        self._cut: Dropped | None = None  # the drop in progress, reported with the next chunk
        self._tail = b""  # end of the last dropped chunk: a pmessage head may straddle chunks

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
        now = time.monotonic()
        with self._lock:
            times = self._raw_times
            if self._bytes + len(chunk) > self.max_bytes or (
                self.max_delay is not None and times and now - times[0] > self.max_delay
            ):
                self._drop_raw(chunk)
                return False
            times.append(now)
            cut = self._cut
            if cut is not None:
                # a head that began in the last dropped chunk and ends in this one was lost too
                lost = (self._tail + chunk[:_MARK_TAIL]).count(PMESSAGE_MARK)
                cut.messages += lost
                self.dropped_messages += lost
                cut.ended_at = time.time()
                self._batches.append(cut)
                self._cut, self._tail = None, b""
            self._batches.append(chunk)
            self._bytes += len(chunk)
            waiter = self._waiter
            self._waiter = None
        if waiter is not None:
            self.loop.call_soon_threadsafe(_wake, waiter)
        return True

    def _drop_raw(self, chunk: bytes) -> None:
        messages = chunk.count(PMESSAGE_MARK) + (self._tail + chunk[:_MARK_TAIL]).count(
            PMESSAGE_MARK
        )
        self._tail = chunk[-_MARK_TAIL:]
        self.dropped_bytes += len(chunk)
        self.dropped_messages += messages
        now = time.time()
        if self._cut is None:
            self._cut = Dropped(now, now, 0, 0)
        self._cut.messages += messages
        self._cut.bytes += len(chunk)
        self._cut.ended_at = now

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
                            self._raw_times.popleft()
                        elif item.__class__ is list:
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


__all__ = ["Dropped", "Event", "Intake", "Item"]
