"""systemStatus: components, workers and the leading collector's report."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess

STATUS = """
{ systemStatus {
    health workersOnline broker { ok } database { ok } resultBackend { ok }
    collector { connected degraded events rowsWritten reportedAt recentGaps { durationSeconds } }
} }
"""


async def test_status_reports_a_healthy_cluster_and_its_collector(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
) -> None:
    celery_client.send_task("src.tasks.demo.health_ping", queue="health").get(timeout=30)
    deadline = time.monotonic() + 20
    while True:  # the collector reports every few seconds
        status = (await gql(http, api.graphql_url, STATUS, token=viewer_token)).ok()["systemStatus"]
        collector = status["collector"]
        if (collector and collector["events"] > 0) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert status["health"] == "HEALTHY"
    assert status["workersOnline"] >= 2
    assert status["broker"]["ok"] and status["database"]["ok"] and status["resultBackend"]["ok"]
    assert collector is not None and collector["connected"] is True
    assert collector["degraded"] is False and collector["events"] > 0
