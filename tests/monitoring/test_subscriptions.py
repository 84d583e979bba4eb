"""metrics(interval) and alerts(minSeverity) over a real WebSocket, fed through the real bus."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from redis import asyncio as aioredis

from src.bus.base import Channel, envelope
from src.embedded_redis import EmbeddedRedis
from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert
from src.monitoring.sample import MetricsSample, SamplerIdentity, Throughput
from tests.support.servers import ApiServer
from tests.support.ws import GraphQLWebSocket, SubscriptionError, graphql_ws, subscribed

METRICS = """
subscription ($interval: Float) {
  metrics(interval: $interval) {
    __typename
    ... on MetricsSample { takenAt workersOnline sampler { host } }
    ... on EventsMissed { count reason }
  }
}
"""

ALERTS = """
subscription ($min: AlertSeverity!) {
  alerts(minSeverity: $min) {
    __typename
    ... on AlertEvent { kind alert { ruleId severity subject active } }
  }
}
"""


def _sample(workers: int) -> dict[str, Any]:
    sample = MetricsSample(
        taken_at=datetime.now(UTC),
        interval_seconds=5,
        sampler=SamplerIdentity(host="publisher", pid=1),
        workers_online=workers,
        throughput=Throughput(window_seconds=300),
    )
    return envelope("metrics", sample.model_dump(mode="json"))


def _alert(rule_id: str, severity: Severity) -> dict[str, Any]:
    alert = Alert(
        key=f"{rule_id}|q",
        rule_id=rule_id,
        kind="queue_backlog",
        severity=severity,
        subject="q",
        message="test",
        raised_at=datetime.now(UTC),
    )
    return envelope("alert.raised", alert.model_dump(mode="json"))


async def _publish(redis: EmbeddedRedis, channel: Channel, *messages: dict[str, Any]) -> None:
    client = aioredis.Redis.from_url(f"{redis.url}/0")
    try:
        for message in messages:
            await client.publish(str(channel), json.dumps(message))
    finally:
        await client.aclose()


async def _subscribed(api: ApiServer) -> None:
    deadline = time.monotonic() + 60
    while api.runtime.bus.health().subscribers < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def _drain(client: GraphQLWebSocket, seconds: float) -> list[dict[str, Any]]:
    """Every result message received within `seconds`."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            found.append(await client.receive(within=left))
        except TimeoutError:
            break
    return found


async def test_metrics_starts_with_the_latest_sample_then_follows(
    api: ApiServer,
    workers,
    viewer_token: str,
    redis_server: EmbeddedRedis,  # type: ignore[no-untyped-def]
) -> None:
    async with subscribed(api.graphql_url, viewer_token, METRICS) as client:
        first = (await client.next())["metrics"]
        assert first["__typename"] == "MetricsSample" and first["sampler"]["host"] != "publisher"
        await _subscribed(api)
        await _publish(redis_server, Channel.METRICS, _sample(42))
        while True:  # the API's own sampler may publish in between
            item = (await client.next())["metrics"]
            if item["sampler"]["host"] == "publisher":
                break
        assert item["workersOnline"] == 42


async def test_metrics_interval_throttles_delivery(
    api: ApiServer, viewer_token: str, redis_server: EmbeddedRedis
) -> None:
    async with graphql_ws(api.graphql_url) as client:
        assert (await client.init({"Authorization": f"Bearer {viewer_token}"}))["type"] == (
            "connection_ack"
        )
        await client.subscribe(METRICS, {"interval": 3600}, op_id="slow")
        await client.subscribe(METRICS, {}, op_id="all")
        await _drain(client, 0.5)  # the initial samples
        await _subscribed(api)
        await _publish(redis_server, Channel.METRICS, _sample(7), _sample(8))
        later = await _drain(client, 1.5)
    by_op: dict[str, list[int]] = {}
    for message in later:
        data = message["payload"]["data"]["metrics"]
        if data.get("sampler", {}).get("host") == "publisher":
            by_op.setdefault(message["id"], []).append(data["workersOnline"])
    assert by_op.get("all") == [7, 8]
    assert "slow" not in by_op


async def test_metrics_interval_is_validated(api: ApiServer, viewer_token: str) -> None:
    async with subscribed(api.graphql_url, viewer_token, METRICS, {"interval": 0}) as client:
        try:
            await client.next()
        except SubscriptionError as error:
            assert error.codes == ["BAD_INPUT"]
        else:
            raise AssertionError("interval 0 was accepted")


async def test_alerts_filter_by_minimum_severity(
    api: ApiServer, viewer_token: str, redis_server: EmbeddedRedis
) -> None:
    async with subscribed(api.graphql_url, viewer_token, ALERTS, {"min": "WARNING"}) as client:
        await _subscribed(api)
        await _publish(
            redis_server,
            Channel.ALERTS,
            _alert("sub-info", Severity.INFO),
            _alert("sub-critical", Severity.CRITICAL),
        )
        while True:  # skip alerts active before we subscribed
            event = (await client.next())["alerts"]
            if event["kind"] != "alert.current":
                break
    assert event == {
        "__typename": "AlertEvent",
        "kind": "alert.raised",
        "alert": {"ruleId": "sub-critical", "severity": "CRITICAL", "subject": "q", "active": True},
    }


async def test_subscriptions_need_a_token(api: ApiServer) -> None:
    async with graphql_ws(api.graphql_url) as client:
        answer = await client.init({})
    assert answer == {"type": "closed", "code": 4403}
