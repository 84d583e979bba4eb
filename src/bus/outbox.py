"""Publishing off the producer's path: a bounded hand-off to one sender task, one PUBLISH per batch.

The collector merges tens of thousands of events per second; awaiting a Redis round trip and a JSON
encoding per task state change cost it 92% of its CPU (issue 9). Here `put` is a list append: the
producer hands over a batch's messages for a channel and goes on. One sender task takes whatever is
queued, and sends it per channel as ONE message (`BATCH_KIND`, the envelopes in order, orjson), so
order per task is kept (one sender, FIFO) and the cost is per batch, not per event.

Bounded: at most `max_messages` wait. When subscribers (Redis, the network) cannot keep up, further
batches are dropped and counted, never waited for; the next batch sent on that channel carries the
count (`missed`), and every subscriber is told exactly how many messages it did not get at the place
of the gap (see `RedisBus._on_message`). Nothing is built at all when no replica has a subscriber on
the channel (`Presence`). Bounded in time too: once the sender has fallen behind (at least one
PUBLISH's worth queued), a batch that waited more than `max_wait` seconds is dropped and counted
like one that did not fit, not sent late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from src.bus.base import ENVELOPE_VERSION

log = logging.getLogger(__name__)

BATCH_KIND = "bus.batch"
MAX_PER_PUBLISH = 2000  # messages in one PUBLISH: bounds a payload (and a receiver's step)


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def encode_batch(messages: list[dict[str, Any]], missed: int = 0) -> bytes:
    """The wire format: one versioned envelope whose data is the batch, and what was dropped."""
    return orjson.dumps(
        {"v": ENVELOPE_VERSION, "type": BATCH_KIND, "at": time.time(), "missed": missed,
         "data": messages},
        default=_default,
    )  # fmt: skip


class Outbox:
    """Bounded queue of (channel, messages) batches, drained by `run()` through `send`."""

    def __init__(
        self,
        send: Callable[[str, bytes], Awaitable[None]],
        *,
        max_messages: int = 100_000,
        max_wait: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.max_messages = max_messages
        self.max_wait = max_wait
        self._clock = clock
        # (channel, messages, dropped just before them on that channel, when queued)
        self._queue: deque[tuple[str, list[dict[str, Any]], int, float]] = deque()
        self._queued = 0
        self._missed: dict[str, int] = {}  # per channel: dropped after the last queued batch
        self._wakeup = asyncio.Event()
        self.dropped = 0  # messages dropped (full, or the send failed)
        self.sent = 0  # messages sent
        self.publishes = 0

    @property
    def queued(self) -> int:
        return self._queued

    def put(self, channel: str, messages: list[dict[str, Any]]) -> bool:
        """Never blocks; False (counted) when the hand-off is full."""
        if not messages:
            return True
        if self._queued + len(messages) > self.max_messages:
            self._lose(channel, len(messages))
            return False
        self._queue.append((channel, messages, self._missed.pop(channel, 0), self._clock()))
        self._queued += len(messages)
        self._wakeup.set()
        return True

    def _lose(self, channel: str, count: int) -> None:
        self.dropped += count
        self._missed[channel] = self._missed.get(channel, 0) + count
        self._wakeup.set()

    async def run(self) -> None:
        """The sender: until cancelled."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.drain()

    async def drain(self) -> None:
        """Send everything queued now: per channel, consecutive batches joined into one message
        (at most MAX_PER_PUBLISH), a new one where messages were dropped, carrying that count.
        Batches older than `max_wait` are dropped here, counted where they were."""
        queue, self._queue = self._queue, deque()
        behind = self._queued >= MAX_PER_PUBLISH
        self._queued = 0
        too_old = self._clock() - self.max_wait if behind else float("-inf")
        stale: dict[str, int] = {}  # per channel: dropped as too old, not yet announced
        parts: dict[str, list[tuple[int, list[dict[str, Any]]]]] = {}
        for channel, messages, missed, queued_at in queue:
            if queued_at < too_old:
                self.dropped += len(messages)
                stale[channel] = stale.get(channel, 0) + missed + len(messages)
                continue
            missed += stale.pop(channel, 0)
            mine = parts.setdefault(channel, [])
            for i in range(0, len(messages), MAX_PER_PUBLISH):
                part = messages[i : i + MAX_PER_PUBLISH]
                if mine and not missed and len(mine[-1][1]) + len(part) <= MAX_PER_PUBLISH:
                    mine[-1][1].extend(part)
                else:
                    mine.append((missed, part))
                missed = 0
        trailing, self._missed = self._missed, {}
        for channel, missed in stale.items():  # announced with what is dropped after them
            trailing[channel] = trailing.get(channel, 0) + missed
        for channel, missed in trailing.items():  # dropped after everything queued
            parts.setdefault(channel, []).append((missed, []))
        for channel, mine in parts.items():
            carry = 0  # lost in a failed send: announced with the next part that goes out
            for missed, messages in mine:
                try:
                    await self._send(channel, encode_batch(messages, missed + carry))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the bus logs (rate-limited) and counts
                    log.debug("bus batch on %s not sent: %s", channel, exc)
                    self.dropped += len(messages)
                    carry += missed + len(messages)
                    continue
                carry = 0
                self.sent += len(messages)
                self.publishes += 1
            if carry:  # the next batch on this channel carries the count
                self._missed[channel] = self._missed.get(channel, 0) + carry


__all__ = ["BATCH_KIND", "MAX_PER_PUBLISH", "Outbox", "encode_batch"]
