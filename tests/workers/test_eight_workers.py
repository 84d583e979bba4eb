"""With eight live workers, `workers` still costs one broadcast per inspect kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from src.embedded_redis import EmbeddedRedis
from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess
from tests.workers.support import sent_since

QUERY = (
    "{ workers { hostname pool { processes } activeTasks { id } registeredTasks queues { name } } }"
)


@pytest.fixture(scope="module")
def six_more_workers(
    redis_server: EmbeddedRedis,
    celery_client,
    workers: list[WorkerProcess],  # type: ignore[no-untyped-def]
    api: ApiServer,
) -> Iterator[list[WorkerProcess]]:
    """Six light (solo pool) workers beside the two session workers; once stopped, the session
    API is told at once (its broadcasts would wait for them until the next discovery round)."""
    extra = [
        WorkerProcess(redis_server, f"extra{i}@tests", concurrency=1, extra=("--pool=solo",))
        for i in range(6)
    ]
    try:
        for worker in extra:
            worker.wait_ready(celery_client)
        yield extra
    finally:
        for worker in extra:
            worker.stop()
            api.runtime.inspector.mark_offline(worker.hostname)


async def test_eight_workers_one_broadcast_per_kind(
    api: ApiServer,
    six_more_workers: list[WorkerProcess],
    http: httpx.AsyncClient,
    viewer_token: str,
) -> None:
    inspector = api.runtime.inspector
    await inspector.discover()  # as the discovery loop would: all eight are known
    inspector.invalidate()
    before = Counter(inspector.sent)
    data = (await gql(http, api.graphql_url, QUERY, token=viewer_token)).ok()
    assert len(data["workers"]) == 8
    assert {w["hostname"] for w in data["workers"]} >= {f"extra{i}@tests" for i in range(6)}
    solo = next(w for w in data["workers"] if w["hostname"] == "extra0@tests")
    assert solo["pool"]["processes"] == 1
    # stats, active, registered, active_queues: four kinds, four broadcasts, for eight workers
    assert sent_since(inspector, before) == Counter(
        {"stats": 1, "active": 1, "registered": 1, "active_queues": 1}
    )
