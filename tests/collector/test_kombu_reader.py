"""The generic path for brokers other than Redis and AMQP: Celery's EventReceiver, tried on
RabbitMQ (reader_for gives AMQP brokers their own reader: see test_amqp_reader.py)."""

from __future__ import annotations

import asyncio
import os
import uuid

from celery import Celery

from src.collector.intake import Intake
from src.collector.readers import KombuEventReader
from tests.collector.support import wait_for

AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


async def test_events_arrive_through_event_receiver_on_rabbitmq() -> None:
    app = Celery("kombu-reader-test", broker=AMQP_URL, set_as_current=False)
    intake = Intake(asyncio.get_running_loop())
    reader = KombuEventReader(app, intake)
    reader.start()
    try:
        assert await wait_for(reader.connected.is_set, 10)
        task_id = str(uuid.uuid4())
        received: list[dict] = []  # type: ignore[type-arg]

        def send() -> None:
            with app.connection_for_write() as conn:
                dispatcher = app.events.Dispatcher(conn, hostname="w@rabbit", enabled=True)
                dispatcher.send("task-succeeded", uuid=task_id, result="1", runtime=0.1)
                dispatcher.close()

        async def collected() -> bool:
            for item in await intake.get():
                assert isinstance(item, list)
                received.extend(e for e in item if e.get("uuid") == task_id)
            return bool(received)

        for _ in range(20):  # the receiver's queue binds asynchronously: send until one lands
            await asyncio.to_thread(send)
            try:
                if await asyncio.wait_for(collected(), 1.0):
                    break
            except TimeoutError:
                continue
        assert received and received[0]["type"] == "task-succeeded"
        assert received[0]["hostname"] == "w@rabbit" and received[0]["result"] == "1"
    finally:
        await asyncio.to_thread(reader.stop)
