"""The Redis event bus on its own, against real redis-servers: delivery, bounds, outages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis import asyncio as aioredis

from src.bus import presence
from src.bus.base import Channel, envelope
from src.bus.fanout import BUS_INTERRUPTED, MISSED_KIND, SLOW_CONSUMER
from src.bus.redis_bus import RedisBus
from src.embedded_redis import EmbeddedRedis, free_port
from tests.support.servers import redis_binary


async def next_message(
    messages: AsyncIterator[dict[str, Any]], within: float = 30.0
) -> dict[str, Any]:
    return await asyncio.wait_for(anext(messages), within)


async def eventually(condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def bus(redis_server: EmbeddedRedis) -> AsyncIterator[RedisBus]:
    bus = RedisBus(f"{redis_server.url}/0", queue_size=8, canary_interval=0.3)
    await bus.start()
    yield bus
    await bus.stop()


async def test_delivers_envelopes_in_order(bus: RedisBus) -> None:
    async with bus.subscribe(Channel.TASKS) as messages:
        for i in range(5):
            await bus.publish(Channel.TASKS, envelope("task.test", {"n": i}))
        received = [await next_message(messages) for _ in range(5)]
    assert [m["data"]["n"] for m in received] == list(range(5))
    assert {m["v"] for m in received} == {1}
    assert bus.health().connected and bus.health().dropped == 0


async def test_ignores_what_is_not_a_current_envelope(
    bus: RedisBus, redis_server: EmbeddedRedis
) -> None:
    raw = aioredis.Redis.from_url(f"{redis_server.url}/0")
    async with bus.subscribe(Channel.WORKERS) as messages:
        await raw.publish(str(Channel.WORKERS), "not json")
        await raw.publish(str(Channel.WORKERS), '{"v": 99, "type": "future", "data": 1}')
        await bus.publish(Channel.WORKERS, envelope("worker.online", {"hostname": "a"}))
        message = await next_message(messages)
    await raw.aclose()
    assert message["type"] == "worker.online"


async def test_two_buses_both_deliver(bus: RedisBus, redis_server: EmbeddedRedis) -> None:
    other = RedisBus(f"{redis_server.url}/0", canary_interval=0.3)
    await other.start()
    try:
        marker = {"x": uuid.uuid4().hex}
        async with bus.subscribe(Channel.METRICS) as a, other.subscribe(Channel.METRICS) as b:
            await bus.publish(Channel.METRICS, envelope("metrics.sample", marker))
            # The session's API shares this Redis: its own metrics samples may come first.
            for messages in (a, b):
                seen = [await next_message(messages) for _ in range(1)]
                while seen[-1].get("data") != marker:
                    assert len(seen) < 50, seen
                    seen.append(await next_message(messages))
    finally:
        await other.stop()


@pytest.fixture
async def steady_bus(redis_server: EmbeddedRedis) -> AsyncIterator[RedisBus]:
    """A slow canary: a late canary on a loaded machine would rebuild the listener mid-test and
    turn the exact slow-consumer count into an interruption notice."""
    bus = RedisBus(f"{redis_server.url}/0", queue_size=8, canary_interval=30)
    await bus.start()
    yield bus
    await bus.stop()


async def test_slow_subscriber_is_bounded_and_told_what_it_missed(steady_bus: RedisBus) -> None:
    bus = steady_bus
    async with bus.subscribe(Channel.TASKS) as messages, bus.subscribe(Channel.TASKS) as reader:
        for i in range(100):
            await bus.publish(Channel.TASKS, envelope("task.test", {"n": i}))
        # All 100 have reached the fan-out before anyone reads: both queues hold the first 8
        # and missed the other 92, exactly (no reader can free a slot in between).
        await eventually(lambda: bus.fanout_stats().received >= 100)
        assert bus.fanout_stats().missed == 2 * 92
        assert bus.fanout_stats().max_queued <= 9  # capacity 8 (+ one missed notice)
        assert [(await next_message(reader))["data"]["n"] for _ in range(8)] == list(range(8))
        received = [await next_message(messages) for _ in range(9)]
    assert [m["data"]["n"] for m in received[:8]] == list(range(8))
    assert received[8]["type"] == MISSED_KIND
    assert received[8]["data"] == {"count": 92, "reason": SLOW_CONSUMER}


async def test_publish_never_blocks_or_raises_when_redis_is_down() -> None:
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    bus = RedisBus(f"{redis.url}/0", canary_interval=0.3, publish_timeout=0.2)
    await bus.start()
    redis.stop()
    try:
        started = time.monotonic()
        for i in range(50):
            await bus.publish(Channel.TASKS, envelope("task.test", {"n": i}))
        assert time.monotonic() - started < 2.0
        assert bus.health().dropped == 50
    finally:
        await bus.stop()


async def test_subscribers_survive_a_redis_restart() -> None:
    redis = EmbeddedRedis(port=free_port(), binary=redis_binary())
    redis.start()
    bus = RedisBus(f"{redis.url}/0", canary_interval=0.3, max_backoff=0.5)
    await bus.start()
    try:
        async with bus.subscribe(Channel.TASKS) as messages:
            await bus.publish(Channel.TASKS, envelope("task.test", {"n": "before"}))
            assert (await next_message(messages))["data"]["n"] == "before"
            redis.stop()
            notice = await next_message(messages, within=10)
            assert notice["type"] == MISSED_KIND
            assert notice["data"]["reason"] == BUS_INTERRUPTED
            assert not bus.health().connected
            redis.start()  # same port
            await eventually(lambda: bus.health().connected, within=15)
            await bus.publish(Channel.TASKS, envelope("task.test", {"n": "after"}))
            assert (await next_message(messages))["data"]["n"] == "after"
            assert bus.health().reconnects >= 1
    finally:
        await bus.stop()
        redis.stop()


async def test_a_burst_of_concurrent_publishes_is_delivered(redis_server: EmbeddedRedis) -> None:
    # A generous publish timeout: on a loaded machine 300 publishes queue for 16 connections
    # longer than the production 0.5 s, and a drop is not what this test is about.
    bus = RedisBus(
        f"{redis_server.url}/0", queue_size=1000, canary_interval=0.3, publish_timeout=30
    )
    await bus.start()
    try:
        async with bus.subscribe(Channel.ALERTS) as messages:
            await asyncio.gather(
                *(bus.publish(Channel.ALERTS, envelope("alert", {"n": i})) for i in range(300))
            )
            received = {(await next_message(messages))["data"]["n"] for _ in range(300)}
        assert received == set(range(300))
        assert bus.health().dropped == 0
    finally:
        await bus.stop()


async def test_stream_refuses_without_a_bus() -> None:
    from src.bus.base import NullBus
    from src.bus.stream import stream
    from src.errors import AppError

    with pytest.raises(AppError) as refused:
        async for _ in stream(NullBus(), Channel.TASKS, lambda m: m):
            pass
    assert refused.value.code.value == "UNSUPPORTED"


# -- batches from high-rate producers (the collector) -------------------------------------------


async def test_offered_batches_arrive_in_order_in_few_publishes(bus: RedisBus) -> None:
    async with bus.subscribe(Channel.TASKS) as messages:
        assert bus.wants(Channel.TASKS)
        for b in range(3):
            assert bus.offer(
                Channel.TASKS, [envelope("task.test", {"n": b * 2 + i}) for i in (0, 1)]
            )
        received = [await next_message(messages) for _ in range(6)]
    assert [m["data"]["n"] for m in received] == list(range(6))
    assert 1 <= bus.outbox.publishes <= 3  # one PUBLISH per batch at most, not one per message


async def test_a_full_outbox_drops_counts_and_tells_subscribers_where(
    redis_server: EmbeddedRedis,
) -> None:
    bus = RedisBus(f"{redis_server.url}/0", canary_interval=30, outbox_messages=10)
    await bus.start()
    try:
        async with bus.subscribe(Channel.TASKS) as messages:
            batches = [
                [envelope("task.test", {"n": b * 4 + i}) for i in range(4)] for b in range(5)
            ]
            accepted = [bus.offer(Channel.TASKS, batch) for batch in batches]  # no await between
            assert accepted == [True, True, False, False, False]
            assert bus.health().dropped == 12
            first = [await next_message(messages) for _ in range(8)]
            assert [m["data"]["n"] for m in first] == list(range(8))
            notice = await next_message(messages)
            assert notice["type"] == MISSED_KIND
            assert notice["data"] == {"count": 12, "reason": BUS_INTERRUPTED}
            bus.offer(Channel.TASKS, [envelope("task.test", {"n": 20})])
            assert (await next_message(messages))["data"]["n"] == 20
    finally:
        await bus.stop()


async def test_producers_skip_channels_nobody_watches(redis_server: EmbeddedRedis) -> None:
    """A producer that serves no subscribers (channels=()) learns from presence whether another
    replica watches; once one subscribes, what it offers after subscribe() returns arrives."""
    producer = RedisBus(f"{redis_server.url}/0", canary_interval=30, channels=())
    replica = RedisBus(f"{redis_server.url}/0", canary_interval=30)
    await producer.start()
    await replica.start()
    try:
        client = aioredis.Redis.from_url(f"{redis_server.url}/0")
        since = time.time()
        producer.wants(Channel.TASKS)  # starts watching presence
        seen: list[float] = []

        async def looked() -> None:  # the producer read presence after `since`: nobody there
            while not (seen and seen[0] >= since):
                raw = await client.hget(presence.SEEN_KEY, producer.replica)
                seen[:] = [float(raw)] if raw else []  # written once the answer is in use
                await asyncio.sleep(0.02)

        await asyncio.wait_for(looked(), 10)
        await client.aclose()
        assert not producer.wants(Channel.TASKS)
        async with replica.subscribe(Channel.TASKS) as messages:
            assert producer.wants(Channel.TASKS)
            producer.offer(Channel.TASKS, [envelope("task.test", {"n": 1})])
            assert (await next_message(messages))["data"]["n"] == 1
        assert producer.health().subscribers == 0
    finally:
        await producer.stop()
        await replica.stop()
