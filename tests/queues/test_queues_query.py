"""Queue lengths straight from the broker, priorities and unacked messages included."""

from __future__ import annotations

import uuid

import httpx

from tests.support.graphql import gql
from tests.support.servers import ApiServer

QUEUE = """
query($n: String!) {
  queue(name: $n) { name length byPriority { priority messages } unacked consumers consumerCount }
}
"""


async def test_queue_counts_every_priority_sub_queue(
    api: ApiServer,
    celery_client,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
    broker_kind: str,
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"  # nobody consumes it, so messages stay put
    celery_client.conf.broker_transport_options = {
        "polling_interval": 0.05,
        "priority_steps": list(range(10)),
        "queue_order_strategy": "priority",
    }
    for priority in (0, 0, 3, 6, 9):
        celery_client.send_task("src.tasks.demo.add", args=[1, 2], queue=name, priority=priority)
    data = (await gql(http, api.graphql_url, QUEUE, {"n": name}, token=viewer_token)).ok()
    queue = data["queue"]
    assert queue["length"] == 5
    by_priority = {p["priority"]: p["messages"] for p in queue["byPriority"]}
    if broker_kind == "redis":
        assert by_priority == {0: 2, 3: 1, 6: 1, 9: 1}
    else:  # RabbitMQ keeps one queue whatever the priority; the count is the whole of it
        assert by_priority == {0: 5}
    assert queue["consumers"] == [] and queue["consumerCount"] == 0
    listed = (
        await gql(http, api.graphql_url, "{ queues { name length } }", token=viewer_token)
    ).ok()
    assert {"name": name, "length": 5} in listed["queues"]


async def test_consumed_queues_list_their_workers(
    api: ApiServer,
    workers,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
) -> None:
    data = (await gql(http, api.graphql_url, QUEUE, {"n": "ai_analysis"}, token=viewer_token)).ok()
    assert set(data["queue"]["consumers"]) == {"alpha@tests", "beta@tests"}


async def test_unknown_queue_is_null(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    data = (
        await gql(http, api.graphql_url, QUEUE, {"n": "no-such-queue"}, token=viewer_token)
    ).ok()
    assert data["queue"] is None
