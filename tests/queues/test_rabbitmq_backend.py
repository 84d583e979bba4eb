"""The RabbitMQ queue reader on a vhost of its own: discovery of queues nobody declared to us,
the passive-declare fallback without a management URL (depth and consumers; peek UNSUPPORTED),
and credentials that never show in an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from celery import Celery
from kombu import Connection, Exchange, Queue

from src.brokers import queue_backend_for
from src.brokers.kombu_queues import KombuQueueBackend
from src.brokers.rabbitmq_queues import RabbitQueueBackend
from src.control.errors import Unsupported
from src.errors import BrokerUnavailable
from src.monitoring.queue_age import parse_head
from tests.support.brokers import RABBIT_MANAGEMENT_URL, amqp_url, rabbitmq_vhost


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    with rabbitmq_vhost("celery-admin-backend") as name:
        yield name


def app_on(vhost: str) -> Celery:
    app = Celery("rabbit-backend-test", set_as_current=False)
    app.conf.broker_url = amqp_url(vhost)
    return app


def publish(vhost: str, queue: str, count: int) -> None:
    with Connection(amqp_url(vhost)) as conn:
        target = Queue(queue, Exchange(queue, type="direct"), routing_key=queue)
        producer = conn.Producer()
        for i in range(count):
            producer.publish(
                {"n": i},
                exchange=target.exchange,
                routing_key=queue,
                declare=[target],
                headers={"id": f"id-{i}", "task": "proj.t", "eta": None},
            )


async def test_discovers_every_queue_of_the_vhost_and_reads_details(vhost: str) -> None:
    publish(vhost, "stranger", 3)  # a queue the app does not declare
    backend = queue_backend_for(app_on(vhost), management_url=RABBIT_MANAGEMENT_URL)
    assert isinstance(backend, RabbitQueueBackend)
    try:
        assert "stranger" in await backend.discover()
        depth = (await backend.depths(["stranger", "absent"]))["stranger"]
        assert depth.messages == 3 and depth.consumer_count == 0
        assert depth.broker_consumers == () and depth.rates is not None
        peeked = await backend.peek("stranger", 2)
        assert [m.task_id for m in peeked] == ["id-0", "id-1"]
        assert (await backend.depths(["stranger"]))["stranger"].messages == 3
        assert await backend.purge("stranger") == 3
    finally:
        await backend.close()


async def test_the_head_message_age_where_the_publisher_stamped_it(vhost: str) -> None:
    stamped = int(time.time()) - 120
    with Connection(amqp_url(vhost)) as conn:
        target = Queue("stamped", Exchange("stamped", type="direct"), routing_key="stamped")
        conn.Producer().publish(
            {"n": 1},
            exchange=target.exchange,
            routing_key="stamped",
            declare=[target],
            headers={"id": "old-one", "task": "proj.t"},
            timestamp=stamped,
        )
    backend = queue_backend_for(app_on(vhost), management_url=RABBIT_MANAGEMENT_URL)
    try:
        deadline = time.monotonic() + 30  # the management API's statistics trail by seconds
        depths = await backend.depths(["stamped"])
        while depths["stamped"].oldest_published_at is None:
            assert time.monotonic() < deadline, depths
            await asyncio.sleep(0.5)
            depths = await backend.depths(["stamped"])
        assert depths["stamped"].oldest_published_at == stamped
        heads = await backend.peek_oldest(depths)
        assert parse_head(heads["stamped"][0]).stamped_at == stamped
        # nothing was taken or flagged: the message is still the first, never redelivered
        (first,) = await backend.peek("stamped", 1)
        assert first.task_id == "old-one" and first.redelivered is False
    finally:
        await backend.close()


async def test_without_a_management_url_passive_declares_answer(vhost: str) -> None:
    publish(vhost, "plain", 2)
    backend = queue_backend_for(app_on(vhost))
    assert isinstance(backend, KombuQueueBackend)
    try:
        depth = (await backend.depths(["plain"]))["plain"]
        assert depth.messages == 2 and depth.consumer_count == 0
        assert depth.unacked is None and depth.broker_consumers is None and depth.rates is None
        assert await backend.discover() == set()
        with pytest.raises(Unsupported) as refused:
            await backend.peek("plain", 1)
        assert "RABBITMQ_MANAGEMENT_URL" in str(refused.value)
    finally:
        await backend.close()


async def test_management_credentials_never_show(vhost: str) -> None:
    backend = RabbitQueueBackend(
        amqp_url(vhost),
        "http://admin:s3cr3t-pw@127.0.0.1:1/",
        passive=KombuQueueBackend(app_on(vhost)),
    )
    try:
        with pytest.raises(BrokerUnavailable) as failed:
            await backend.peek("fallback", 1)
        assert "s3cr3t-pw" not in str(failed.value) and "127.0.0.1:1" in str(failed.value)
        assert await backend.discover() == set()  # the app's and workers' queues still list
        # depths fall back to the passive declares when the API does not answer
        publish(vhost, "fallback", 1)
        assert (await backend.depths(["fallback"]))["fallback"].messages == 1
    finally:
        await backend.close()
