"""Removing revoked tasks' waiting messages from Redis queues (`RedisQueueBackend.remove_waiting`),
on messages kombu really wrote."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery
from redis import asyncio as aioredis

from src.brokers import queue_backend_for, redis_queues
from src.brokers.redis_queues import PRIORITY_SEP, RedisQueueBackend, message_task_id
from src.control.inspector import Inspector
from src.control.plane import ControlPlane
from src.control.revoke_followup import after_revoke
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from src.queues.catalog import QueueCatalog
from src.task_store.query import TaskStore

MESSAGES = 1300  # more than one chunk of the tail-first scan


@pytest.fixture
async def backend(redis_server: EmbeddedRedis):  # type: ignore[no-untyped-def]
    queues = RedisQueueBackend(f"{redis_server.url}/0")
    yield queues
    await queues.close()


@pytest.fixture
def broker(backend: RedisQueueBackend) -> aioredis.Redis:
    return backend.redis


def _fill(app: Celery, queue: str) -> tuple[list[str], list[str]]:
    """MESSAGES plain messages (oldest first) and three on the top priority sub-queue."""
    with app.producer_or_acquire() as producer:
        plain = [
            str(app.send_task("src.tasks.demo.add", args=[i, i], queue=queue, producer=producer).id)
            for i in range(MESSAGES)
        ]
        urgent = [
            str(
                app.send_task(
                    "src.tasks.demo.add", args=[i, 0], queue=queue, priority=9, producer=producer
                ).id
            )
            for i in range(3)
        ]
    return plain, urgent


async def _ids(broker: aioredis.Redis, key: str) -> list[str]:
    raws = await broker.lrange(key, 0, -1)
    return [message_task_id(raw) or "" for raw in raws]


@pytest.mark.redis_broker
async def test_exactly_the_revoked_messages_are_removed(
    backend: RedisQueueBackend, broker: aioredis.Redis, celery_client: Celery
) -> None:
    queue = f"removal_{uuid.uuid4().hex[:6]}"
    plain, urgent = _fill(celery_client, queue)
    # The oldest (next to run), one past the first chunk, the newest, one on a priority list, and
    # an id that is nowhere.
    wanted = [plain[0], plain[1100], plain[-1], urgent[1], str(uuid.uuid4())]
    before = await _ids(broker, queue)
    report = await backend.remove_waiting([queue, f"other_{queue}"], wanted)
    assert report.removed == dict.fromkeys(wanted[:4], queue)
    assert not report.incomplete
    assert await _ids(broker, queue) == [i for i in before if i not in wanted]
    assert await _ids(broker, f"{queue}{PRIORITY_SEP}9") == list(reversed([urgent[0], urgent[2]]))
    again = await backend.remove_waiting([queue], wanted)
    assert again.removed == {}  # gone already
    await broker.delete(queue, f"{queue}{PRIORITY_SEP}9")


@pytest.mark.redis_broker
async def test_the_scan_is_bounded_and_says_so(
    backend: RedisQueueBackend,
    broker: aioredis.Redis,
    celery_client: Celery,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = f"removal_{uuid.uuid4().hex[:6]}"
    plain, _urgent = _fill(celery_client, queue)
    monkeypatch.setattr(redis_queues, "MAX_REMOVAL_SCAN", 1000)
    report = await backend.remove_waiting([queue], [plain[-1]])  # the newest: read last
    assert report.removed == {} and report.incomplete == [queue]
    assert report.scanned == 1000
    found = await backend.remove_waiting([queue], [plain[0]])  # the oldest: read first
    assert found.removed == {plain[0]: queue}
    await broker.delete(queue, f"{queue}{PRIORITY_SEP}9")


async def test_a_broker_that_cannot_take_one_message_out_says_so(database_url: str) -> None:
    """On RabbitMQ and other kombu transports the message stays queued; the revoke's follow-up
    says so in `observed` (nothing is sent to the broker to find that out)."""
    app = Celery("removal-amqp", broker="amqp://guest:guest@127.0.0.1:5672//", set_as_current=False)
    inspector = Inspector(app)
    db = Database.from_url(database_url)
    plane = ControlPlane(
        app=app,
        inspector=inspector,
        queues=QueueCatalog(app, queue_backend_for(app)),
        tasks=TaskStore(db),
        redis=None,
        redis_url=None,
        timeout=1.0,
    )
    try:
        assert await plane.queues.backend.remove_waiting(["celery"], ["x"]) is None
        observed = await after_revoke(plane, [str(uuid.uuid4())], [], queue="celery")
        assert observed["queue_removal"].startswith("not supported on amqp")
        assert "removed_from_queue" not in observed
    finally:
        inspector.close()
        await db.dispose()
