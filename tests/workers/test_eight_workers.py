"""With eight live workers, `workers` still costs one broadcast per inspect kind."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from src.embedded_redis import EmbeddedRedis
from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess

QUERY = (
    "{ workers { hostname pool { processes } activeTasks { id } registeredTasks queues { name } } }"
)


@pytest.fixture(scope="module")
def six_more_workers(
    redis_server: EmbeddedRedis,
    celery_client,
    workers: list[WorkerProcess],  # type: ignore[no-untyped-def]
) -> Iterator[list[WorkerProcess]]:
    """Six light (solo pool) workers beside the two session workers."""
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


async def test_eight_workers_one_broadcast_per_kind(
    api: ApiServer,
    six_more_workers: list[WorkerProcess],
    http: httpx.AsyncClient,
    viewer_token: str,
) -> None:
    inspector = api.services.inspector
    await inspector.discover()  # as the discovery loop would: all eight are known
    inspector.invalidate()
    before = inspector.broadcasts
    data = (await gql(http, api.graphql_url, QUERY, token=viewer_token)).ok()
    assert len(data["workers"]) == 8
    assert {w["hostname"] for w in data["workers"]} >= {f"extra{i}@tests" for i in range(6)}
    solo = next(w for w in data["workers"] if w["hostname"] == "extra0@tests")
    assert solo["pool"]["processes"] == 1
    # stats, active, registered, active_queues: four kinds, four broadcasts, for eight workers
    assert inspector.broadcasts - before == 4
