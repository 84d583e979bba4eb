"""systemStatus: components, workers and the leading collector's report."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

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
    deadline = time.monotonic() + 60
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


async def test_status_never_waits_for_an_inspect_broadcast(
    api: ApiServer,
    workers: list[WorkerProcess],
    http: httpx.AsyncClient,
    viewer_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every broadcast is held until the answer is in: systemStatus answers from the workers
    already known and only starts a refresh in the background (before, it waited on a stats
    broadcast, up to the inspect timeout whenever a known worker was silent)."""
    inspector = api.runtime.inspector
    held = threading.Event()
    started = threading.Event()

    def blocked_call(kind: object, limit: object) -> dict[str, object]:
        started.set()
        held.wait(60)
        return {}

    await gql(http, api.graphql_url, "{ workers { hostname } }", token=viewer_token)
    inspector.invalidate()
    monkeypatch.setattr(inspector, "_call", blocked_call)
    refreshes = inspector.background_refreshes
    try:
        response = await asyncio.wait_for(
            gql(http, api.graphql_url, STATUS, token=viewer_token), timeout=30
        )
        answered_while_held = not held.is_set()
        status = response.ok()["systemStatus"]
    finally:
        held.set()
    assert answered_while_held
    assert inspector.background_refreshes == refreshes + 1 and started.wait(30)
    assert status["workersOnline"] >= 2
