"""Whom a broadcast to every worker waits for: the known-alive workers, and a stopped one only
once (the known set goes stale when a worker stops without anyone noticing)."""

from __future__ import annotations

import asyncio
import uuid

from celery import Celery

from src.cluster import load_cluster_app
from src.config import Settings
from src.control.broadcast import Controller
from src.control.inspector import Inspector
from src.embedded_redis import EmbeddedRedis
from tests.support.servers import WorkerProcess


async def test_a_stopped_worker_is_waited_for_once(
    settings: Settings,
    redis_server: EmbeddedRedis,
    workers: list[WorkerProcess],
    celery_client: Celery,
) -> None:
    app = load_cluster_app(settings)
    inspector = Inspector(app, timeout=1.0)
    controller = Controller(app, inspector, timeout=1.0)
    hostname = f"fleeting-{uuid.uuid4().hex[:6]}@tests"
    worker = WorkerProcess(redis_server, hostname, queues="fleeting_q", concurrency=1)
    try:
        await asyncio.to_thread(worker.wait_ready, celery_client)
        assert controller.awaited_workers() == []  # nobody known: the first call listens it out
        first = await controller.call("ping")
        assert {hostname, *(w.hostname for w in workers)} <= set(first)
        assert hostname in controller.awaited_workers()

        await asyncio.to_thread(worker.stop)  # nobody tells the inspector
        second = await controller.call("ping")
        assert hostname not in second and {w.hostname for w in workers} <= set(second)
        assert hostname in inspector.known_workers()  # still counted alive (stale) ...
        assert hostname not in controller.awaited_workers()  # ... but no longer waited for

        worker = WorkerProcess(redis_server, hostname, queues="fleeting_q", concurrency=1)
        await asyncio.to_thread(worker.wait_ready, celery_client)
        assert await controller.ping([hostname]) == {hostname}
        assert hostname in controller.awaited_workers()  # it answered: waited for again
    finally:
        worker.stop()
        inspector.close()
