"""The workers and worker queries against live workers."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.conftest import WORKER_NAMES
from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess
from tests.workers.support import sent_since

ALL_FIELDS = """
query {
  workers {
    hostname online status lastHeartbeat pid uptime prefetchCount processedTotal load
    pool { implementation processes maxConcurrency pids }
    processed { name count }
    activeTasks { id name } reservedTasks { id } scheduledTasks { id eta }
    registeredTasks queues { name routingKey } revoked softwareVersion
  }
}
"""


async def test_workers_lists_every_live_worker_with_details(
    api: ApiServer, workers: list[WorkerProcess], http: httpx.AsyncClient, viewer_token: str
) -> None:
    data = (await gql(http, api.graphql_url, ALL_FIELDS, token=viewer_token)).ok()
    by_name = {w["hostname"]: w for w in data["workers"]}
    assert set(WORKER_NAMES) <= set(by_name)
    alpha = by_name["alpha@tests"]
    assert alpha["online"] is True and alpha["status"] == "ONLINE"
    assert alpha["pool"]["implementation"] == "prefork"
    assert alpha["pool"]["processes"] == 2 and len(alpha["pool"]["pids"]) == 2
    assert "src.tasks.demo.analyze_audio" in alpha["registeredTasks"]
    assert {q["name"] for q in alpha["queues"]} == {"ai_analysis", "maintenance", "health"}
    assert alpha["softwareVersion"].startswith("celery:")
    assert alpha["pid"] == workers[0].process.pid


async def test_worker_by_hostname_and_unknown_worker(
    api: ApiServer, workers: list[WorkerProcess], http: httpx.AsyncClient, viewer_token: str
) -> None:
    query = "query($h: String!) { worker(hostname: $h) { hostname online } }"
    found = await gql(http, api.graphql_url, query, {"h": "beta@tests"}, token=viewer_token)
    assert found.ok()["worker"] == {"hostname": "beta@tests", "online": True}
    missing = await gql(http, api.graphql_url, query, {"h": "nobody@nowhere"}, token=viewer_token)
    assert missing.ok()["worker"] is None


async def test_active_task_shows_on_its_worker(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
) -> None:
    result = celery_client.send_task("src.tasks.demo.analyze_slow", args=[5], queue="ai_analysis")
    query = "{ workers { hostname activeTasks { id name startedAt } } }"
    try:
        for _ in range(100):  # each round is a fresh broadcast: waits on the workers, not a clock
            api.runtime.inspector.invalidate()
            data = (await gql(http, api.graphql_url, query, token=viewer_token)).ok()
            active = {
                t["id"]: (w["hostname"], t) for w in data["workers"] for t in w["activeTasks"]
            }
            if result.id in active:
                break
            await asyncio.sleep(0.05)
        hostname, task = active[result.id]
        assert hostname in WORKER_NAMES
        assert task["name"] == "src.tasks.demo.analyze_slow"
        assert task["startedAt"] is not None
    finally:
        celery_client.control.revoke(result.id, terminate=True)


async def test_one_broadcast_per_kind_per_request(
    api: ApiServer, workers: list[WorkerProcess], http: httpx.AsyncClient, viewer_token: str
) -> None:
    """However many workers and fields, each inspect kind is broadcast once per request."""
    inspector = api.runtime.inspector
    inspector.invalidate()
    before = Counter(inspector.sent)
    data = (await gql(http, api.graphql_url, ALL_FIELDS, token=viewer_token)).ok()
    assert len(data["workers"]) >= 2
    kinds = {
        "stats",
        "active",
        "reserved",
        "scheduled",
        "registered",
        "active_queues",
        "revoked",
        "report",
    }
    assert sent_since(inspector, before) == Counter(dict.fromkeys(kinds, 1))


async def test_concurrent_queries_share_broadcasts(
    api: ApiServer, workers: list[WorkerProcess], http: httpx.AsyncClient, viewer_token: str
) -> None:
    inspector = api.runtime.inspector
    inspector.invalidate()
    before = inspector.broadcasts
    query = "{ workers { hostname pool { processes } activeTasks { id } } }"
    responses = await asyncio.wait_for(
        asyncio.gather(*(gql(http, api.graphql_url, query, token=viewer_token) for _ in range(50))),
        timeout=30,
    )
    assert all(len(r.ok()["workers"]) >= 2 for r in responses)
    # two kinds (stats, active); shared in flight and cached, so far fewer than 50 each
    assert inspector.broadcasts - before <= 6
