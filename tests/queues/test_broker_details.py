"""What each broker tells about a queue beyond its depth: on RabbitMQ (management API) the
consumers with their prefetch, the message rates and the unacknowledged count; on Redis none of
that exists, and the fields say so (null)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess

DETAILS = """
query($n: String!) {
  queue(name: $n) {
    consumerCount unacked
    brokerConsumers { tag prefetch ackRequired connection }
    rates { publish deliver ack }
  }
}
"""


async def test_queue_details_as_the_broker_tells_them(
    api: ApiServer,
    workers: list[WorkerProcess],
    http: httpx.AsyncClient,
    viewer_token: str,
    broker_kind: str,
) -> None:
    async def details() -> dict[str, Any]:
        answer = await gql(http, api.graphql_url, DETAILS, {"n": "ai_analysis"}, token=viewer_token)
        queue: dict[str, Any] = answer.ok()["queue"]
        return queue

    queue = await details()

    def settled(queue: dict[str, Any]) -> bool:
        consumers = queue["brokerConsumers"] or []
        return len(consumers) == 2 and all(c["prefetch"] for c in consumers)

    # RabbitMQ's management statistics trail the broker by seconds: ask until both show whole
    deadline = time.monotonic() + 30
    while broker_kind == "amqp" and not settled(queue):
        assert time.monotonic() < deadline, queue
        await asyncio.sleep(0.2)
        queue = await details()
    if broker_kind == "redis":  # Redis knows neither consumers nor rates
        assert queue["brokerConsumers"] is None and queue["rates"] is None
        assert queue["unacked"] == 0
        return
    assert queue["consumerCount"] == 2 and queue["unacked"] == 0
    consumers = queue["brokerConsumers"]
    assert len(consumers) == 2
    # the workers run with concurrency 2 and prefetch multiplier 1
    assert all(c["prefetch"] == 2 and c["ackRequired"] for c in consumers), consumers
    assert queue["rates"] is not None and queue["rates"]["publish"] >= 0
