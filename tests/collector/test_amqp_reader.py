"""The collector's own durable event queue on RabbitMQ: events published while no collector runs
wait for the next one, and the queue is bounded (TTL, maximum length) so a collector that is
gone cannot fill the broker. On a vhost of its own, with Celery's real event dispatcher."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from celery import Celery
from kombu import Connection

from src.collector.amqp_reader import EVENTS_QUEUE, AmqpEventReader
from src.collector.intake import Intake
from src.collector.readers import reader_for
from tests.collector.support import wait_for
from tests.support.brokers import amqp_url, management_client, rabbitmq_vhost

MAX_LENGTH = 1000


@pytest.fixture
def vhost() -> Iterator[str]:
    with rabbitmq_vhost("celery-admin-events") as name:
        yield name


def send(app: Celery, task_ids: list[str]) -> None:
    with app.connection_for_write() as conn:
        dispatcher = app.events.Dispatcher(conn, hostname="w@rabbit", enabled=True)
        for task_id in task_ids:
            dispatcher.send("task-succeeded", uuid=task_id, result="1", runtime=0.1)
        dispatcher.close()


def waiting(url: str) -> int:
    with Connection(url) as conn:
        _, messages, _ = conn.default_channel.queue_declare(EVENTS_QUEUE, passive=True)
        return int(messages)


async def drain(intake: Intake, wanted: set[str], within: float = 30.0) -> set[str]:
    seen: set[str] = set()

    async def collect() -> None:
        while not wanted <= seen:
            for item in await intake.get():
                assert isinstance(item, list)
                seen.update(str(e.get("uuid")) for e in item if e.get("uuid") in wanted)

    await asyncio.wait_for(collect(), within)
    return seen


async def test_events_wait_for_the_next_collector_and_the_queue_is_bounded(vhost: str) -> None:
    url = amqp_url(vhost)
    app = Celery("amqp-reader-test", broker=url, set_as_current=False)
    intake = Intake(asyncio.get_running_loop())
    reader = reader_for(app, url, intake, ttl_seconds=600, max_length=MAX_LENGTH)
    assert isinstance(reader, AmqpEventReader)
    reader.start()
    try:
        assert await wait_for(reader.connected.is_set, 15)
        first = [str(uuid.uuid4()) for _ in range(5)]
        await asyncio.to_thread(send, app, first)
        assert await drain(intake, set(first)) == set(first)
    finally:
        await asyncio.to_thread(reader.stop)

    # No collector: events are kept in the durable queue, not dropped as with Redis pub/sub.
    meanwhile = [str(uuid.uuid4()) for _ in range(20)]
    await asyncio.to_thread(send, app, meanwhile)
    assert await asyncio.to_thread(waiting, url) == 20

    def described() -> dict[str, Any]:
        with management_client() as client:
            answer = client.get(f"/api/queues/{quote(vhost, safe='')}/{EVENTS_QUEUE}")
            queue: dict[str, Any] = answer.json()
            return queue

    queue = await asyncio.to_thread(described)
    assert queue["durable"] is True and queue["auto_delete"] is False
    assert queue["arguments"] == {"x-message-ttl": 600_000, "x-max-length": MAX_LENGTH}

    second = reader_for(app, url, Intake(asyncio.get_running_loop()), ttl_seconds=600,
                        max_length=MAX_LENGTH)  # fmt: skip
    second.start()
    try:
        assert await wait_for(second.connected.is_set, 15)
        assert await drain(second.intake, set(meanwhile)) == set(meanwhile)
        assert await wait_for(lambda: waiting(url) == 0, 15)  # acknowledged once taken in
    finally:
        await asyncio.to_thread(second.stop)

    # Gone for good: the broker keeps at most MAX_LENGTH of them (the newest).
    await asyncio.to_thread(send, app, [str(uuid.uuid4()) for _ in range(MAX_LENGTH + 200)])
    assert await asyncio.to_thread(waiting, url) == MAX_LENGTH
