"""Fan-out of one channel's messages to many local subscribers, each with a bounded queue.

The process subscribes to Redis once per channel; every WebSocket subscription gets its own queue
here. A queue that is full does not grow: further messages are counted, and once the subscriber reads
again it first receives one `missed` notice (an envelope of kind MISSED_KIND with the count) at the
exact place of the gap. Memory per subscriber is therefore at most `capacity` messages.

A subscriber may bring a filter (`accept`, with a `key` naming it): messages it would skip anyway
never enter its queue, and subscribers with the same key share one evaluation per message. With a
hundred dashboards watching one filter at tens of thousands of messages per second, that is the
difference between one check per message and a hundred (and queues full of what nobody reads).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from src.bus.base import envelope

MISSED_KIND = "bus.missed"

# Why messages were missed (the `reason` of a missed notice).
SLOW_CONSUMER = "SLOW_CONSUMER"  # this subscriber did not read fast enough; count is exact
BUS_INTERRUPTED = "BUS_INTERRUPTED"  # the Redis subscription was rebuilt; count is unknown


def missed_notice(count: int | None, reason: str) -> dict[str, Any]:
    return envelope(MISSED_KIND, {"count": count, "reason": reason})


class Subscriber:
    """One consumer's bounded queue. Producers call `offer` (never blocks); the consumer iterates."""

    def __init__(
        self,
        channel: str,
        capacity: int,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        key: Hashable | None = None,
    ) -> None:
        self.channel = channel
        self.accept = accept
        self.key = key if key is not None else id(self)
        self.capacity = max(1, capacity)
        self._items: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()
        self._pending_missed = 0
        self.missed_total = 0
        self.delivered = 0
        self.closed = False
        self.expired = False

    @property
    def queued(self) -> int:
        return len(self._items)

    def offer(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        if message.get("type") == MISSED_KIND and self._items and self._merge_notice(message):
            self._wakeup.set()
            return
        if len(self._items) >= self.capacity:
            self._pending_missed += 1
            self.missed_total += 1
            return
        if self._pending_missed:
            # The notice goes where the gap is; it may take the queue one over capacity.
            self._items.append(missed_notice(self._pending_missed, SLOW_CONSUMER))
            self._pending_missed = 0
        self._items.append(message)
        self._wakeup.set()

    def _merge_notice(self, notice: dict[str, Any]) -> bool:
        """Two counted notices of one reason in a row become one (notices are shared: replaced,
        never changed in place)."""
        last = self._items[-1]
        if last.get("type") != MISSED_KIND:
            return False
        mine, theirs = last.get("data") or {}, notice.get("data") or {}
        count, more = mine.get("count"), theirs.get("count")
        if mine.get("reason") != theirs.get("reason") or count is None or more is None:
            return False
        self._items[-1] = missed_notice(count + more, mine["reason"])
        return True

    def offer_many(self, messages: list[dict[str, Any]]) -> None:
        """`offer` for each message, in one step."""
        if self.closed:
            return
        n = len(messages)
        room = self.capacity - len(self._items)
        if room <= 0:
            self._pending_missed += n
            self.missed_total += n
            return
        if self._pending_missed:
            self._items.append(missed_notice(self._pending_missed, SLOW_CONSUMER))
            self._pending_missed = 0
        if n <= room:
            self._items.extend(messages)
        else:
            self._items.extend(messages[:room])
            self._pending_missed += n - room
            self.missed_total += n - room
        self._wakeup.set()

    def interrupt(self) -> None:
        """The upstream subscription was lost for a while: messages may be missing here."""
        if self.closed:
            return
        if self._items and self._items[-1].get("type") == MISSED_KIND:
            return
        self._items.append(missed_notice(None, BUS_INTERRUPTED))
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

    def expire(self) -> None:
        """End the iteration now, queued messages or not (the reader's token expired)."""
        self.expired = True
        self.close()

    async def get(self) -> dict[str, Any] | None:
        """The next message, a missed notice, or None once closed."""
        while True:
            if self.expired:
                return None
            if self._items:
                self.delivered += 1
                return self._items.popleft()
            if self._pending_missed:
                count, self._pending_missed = self._pending_missed, 0
                return missed_notice(count, SLOW_CONSUMER)
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> dict[str, Any]:
        item = await self.get()
        if item is None:
            raise StopAsyncIteration
        return item


def _accepts(accept: Callable[[dict[str, Any]], bool], message: dict[str, Any]) -> bool:
    try:
        return bool(accept(message))
    except Exception:  # let the subscriber's own transform decide (and skip it)
        return True


@dataclass(frozen=True, slots=True)
class FanoutStats:
    subscribers: int
    queued: int  # messages waiting in all local queues
    max_queued: int  # the fullest queue
    missed: int  # messages skipped for slow subscribers since start
    received: int = 0  # messages that reached the fan-out (for any local subscriber)


class Fanout:
    """channel -> local subscribers."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._missed_closed = 0
        self.received = 0

    def add(
        self,
        channel: str,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        key: Hashable | None = None,
    ) -> Subscriber:
        subscriber = Subscriber(channel, self.capacity, accept, key)
        self._subscribers.setdefault(channel, set()).add(subscriber)
        return subscriber

    def remove(self, subscriber: Subscriber) -> None:
        subscriber.close()
        group = self._subscribers.get(subscriber.channel)
        if group is not None and subscriber in group:
            group.discard(subscriber)
            self._missed_closed += subscriber.missed_total

    def has(self, channel: str) -> bool:
        return bool(self._subscribers.get(channel))

    def deliver(self, channel: str, message: dict[str, Any]) -> int:
        group = self._subscribers.get(channel)
        if not group:
            return 0
        self.received += 1
        verdicts: dict[Hashable, bool] = {}
        for subscriber in group:
            accept = subscriber.accept
            if accept is not None and message.get("type") != MISSED_KIND:
                ok = verdicts.get(subscriber.key)
                if ok is None:
                    ok = verdicts[subscriber.key] = _accepts(accept, message)
                if not ok:
                    continue
            subscriber.offer(message)
        return len(group)

    def deliver_many(self, channel: str, messages: list[dict[str, Any]]) -> int:
        group = self._subscribers.get(channel)
        if not group or not messages:
            return 0
        self.received += len(messages)
        matched: dict[Hashable, list[dict[str, Any]]] = {}
        for subscriber in group:
            accept = subscriber.accept
            if accept is None:
                subscriber.offer_many(messages)
                continue
            mine = matched.get(subscriber.key)
            if mine is None:
                mine = matched[subscriber.key] = [m for m in messages if _accepts(accept, m)]
            if mine:
                subscriber.offer_many(mine)
        return len(group)

    def interrupt_all(self) -> None:
        for group in self._subscribers.values():
            for subscriber in group:
                subscriber.interrupt()

    def close_all(self) -> None:
        for group in self._subscribers.values():
            for subscriber in group:
                subscriber.close()

    def stats(self) -> FanoutStats:
        everyone = [s for group in self._subscribers.values() for s in group]
        return FanoutStats(
            subscribers=len(everyone),
            queued=sum(s.queued for s in everyone),
            max_queued=max((s.queued for s in everyone), default=0),
            missed=self._missed_closed + sum(s.missed_total for s in everyone),
            received=self.received,
        )


__all__ = [
    "BUS_INTERRUPTED",
    "MISSED_KIND",
    "SLOW_CONSUMER",
    "Fanout",
    "FanoutStats",
    "Subscriber",
    "missed_notice",
]
