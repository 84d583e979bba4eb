"""A worker of our own for control tests (the session workers alpha/beta stay untouched by
anything that changes a pool, a consumer or a rate limit), and helpers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from src.embedded_redis import EmbeddedRedis
from tests.support.servers import ApiServer, WorkerProcess

CTL_QUEUE = "ctl_q"


@pytest.fixture(scope="package")
def ctl_worker(
    redis_server: EmbeddedRedis, celery_client: Celery, api: ApiServer
) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(redis_server, f"ctl-{uuid.uuid4().hex[:6]}@tests", queues=CTL_QUEUE)
    try:
        worker.wait_ready(celery_client)
        yield worker
    finally:
        stop_worker(api, worker)


def stop_worker(api: ApiServer, worker: WorkerProcess) -> None:
    """Stop our own worker and tell the session API at once (so its broadcasts stop waiting for
    it), rather than leaving that to the next discovery round."""
    worker.stop()
    api.runtime.inspector.mark_offline(worker.hostname)


def wait_for(probe: Any, timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll probe() until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)
