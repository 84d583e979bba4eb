"""The bus under a backlog: nothing is delivered late; what is dropped is counted and announced.

A CPU-bound overload shows up as a backlog (batches waiting to be sent, or read from Redis but not
yet handed to subscribers). These tests make the backlog and the passing of time explicit (an
injected clock; a message read from Redis handed over as read seconds ago) instead of loading the
machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from src.bus.base import Channel, envelope
from src.bus.fanout import BUS_INTERRUPTED, MISSED_KIND, Subscriber, missed_notice
from src.bus.outbox import BATCH_KIND, MAX_PER_PUBLISH, Outbox, encode_batch
from src.bus.redis_bus import RedisBus
from src.embedded_redis import EmbeddedRedis
from tests.realtime.test_bus import next_message


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _recording_outbox() -> tuple[Outbox, Clock, list[dict[str, Any]]]:
    """An outbox on a clock of the test's, whose sends are kept (decoded) in order."""
    sent: list[dict[str, Any]] = []

    async def send(channel: str, payload: bytes) -> None:
        sent.append(orjson.loads(payload))

    clock = Clock()
    return Outbox(send, max_wait=2.0, clock=clock), clock, sent


def _messages(start: int, count: int) -> list[dict[str, Any]]:
    return [envelope("task.test", {"n": n}) for n in range(start, start + count)]


async def test_a_backlogged_outbox_drops_what_waited_too_long_and_says_where() -> None:
    outbox, clock, sent = _recording_outbox()
    old = _messages(0, MAX_PER_PUBLISH)
    assert outbox.put("tasks", old)
    clock.now += 5.0  # the sender did not run for 5 s
    assert outbox.put("tasks", _messages(MAX_PER_PUBLISH, 3))
    await outbox.drain()
    assert outbox.dropped == MAX_PER_PUBLISH and outbox.sent == 3
    assert len(sent) == 1 and sent[0]["type"] == BATCH_KIND
    assert sent[0]["missed"] == MAX_PER_PUBLISH  # announced right before what follows the gap
    assert [m["data"]["n"] for m in sent[0]["data"]] == [2000, 2001, 2002]


async def test_an_outbox_without_a_backlog_sends_even_what_waited() -> None:
    outbox, clock, sent = _recording_outbox()
    assert outbox.put("tasks", _messages(0, 3))
    clock.now += 5.0  # a pause, but nothing piled up: nothing to catch up on
    await outbox.drain()
    assert outbox.dropped == 0 and [m["data"]["n"] for m in sent[0]["data"]] == [0, 1, 2]


async def test_a_stale_trailing_batch_is_announced_on_its_own() -> None:
    outbox, clock, sent = _recording_outbox()
    assert outbox.put("tasks", _messages(0, MAX_PER_PUBLISH + 1))
    clock.now += 3.0
    await outbox.drain()
    assert outbox.dropped == MAX_PER_PUBLISH + 1 and outbox.sent == 0
    assert [(b["missed"], b["data"]) for b in sent] == [(MAX_PER_PUBLISH + 1, [])]


def test_consecutive_counted_notices_merge_into_one() -> None:
    subscriber = Subscriber("tasks", capacity=8)
    subscriber.offer(envelope("task.test", {"n": 1}))
    first = missed_notice(10, BUS_INTERRUPTED)
    subscriber.offer(first)
    subscriber.offer(missed_notice(5, BUS_INTERRUPTED))
    subscriber.offer(envelope("task.test", {"n": 2}))
    assert subscriber.queued == 3
    assert first["data"]["count"] == 10  # shared with other subscribers: never changed in place
    subscriber.offer(missed_notice(None, BUS_INTERRUPTED))  # an uncounted one stays apart
    subscriber.offer(missed_notice(1, BUS_INTERRUPTED))
    assert subscriber.queued == 5


async def test_a_reader_that_fell_behind_announces_instead_of_delivering_late(
    redis_server: EmbeddedRedis,
) -> None:
    bus = RedisBus(f"{redis_server.url}/0", canary_interval=30, max_wait=2.0)
    await bus.start()
    try:
        async with bus.subscribe(Channel.TASKS) as messages:
            batch = encode_batch(_messages(0, 40), missed=2).decode()
            # Read from Redis 3 s ago, with more waiting behind it: handed over as a notice.
            bus._on_message(str(Channel.TASKS), batch, waited=3.0, behind=5)
            # As old, but the last one waiting: the reader has caught up, so it is delivered.
            bus._on_message(str(Channel.TASKS), encode_batch(_messages(40, 1)).decode(), 3.0, 0)
            notice = await next_message(messages)
            assert notice["type"] == MISSED_KIND
            assert notice["data"] == {"count": 42, "reason": BUS_INTERRUPTED}
            assert (await next_message(messages))["data"]["n"] == 40
            assert bus.health().dropped == 40  # the 2 the producer dropped are counted there
            # Through Redis, in time: delivered as always.
            bus.offer(Channel.TASKS, _messages(41, 2))
            assert [(await next_message(messages))["data"]["n"] for _ in range(2)] == [41, 42]
    finally:
        await asyncio.wait_for(bus.stop(), 30)
