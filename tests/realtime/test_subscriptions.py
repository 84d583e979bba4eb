"""Subscriptions over real WebSockets against the app under uvicorn, fed through a real Redis.

The collector is not part of these tests: envelopes like the ones it publishes come from a separate
publisher (another process, or another Redis connection).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from redis import asyncio as aioredis
from websockets.exceptions import InvalidStatus

from src.auth.roles import Role
from src.bus.base import Channel, envelope
from src.config import Settings
from src.embedded_redis import EmbeddedRedis, free_port
from tests.support.graphql import gql, mint
from tests.support.publisher import publish_from_another_process
from tests.support.servers import (
    TEST_JWT_SECRET,
    ApiServer,
    make_settings,
    redis_binary,
    running_api,
)
from tests.support.waiting import eventually
from tests.support.ws import LEGACY_WS, SubscriptionError, graphql_ws, subscribed

TASK_EVENTS = """
subscription ($filter: TaskFilterInput) {
  taskEvents(filter: $filter) {
    __typename
    ... on TaskEvent { kind taskId name state queue worker startedAt runtime }
    ... on EventsMissed { count reason }
  }
}
"""

WORKER_EVENTS = """
subscription ($hostname: String) {
  workerEvents(hostname: $hostname) {
    __typename
    ... on WorkerEvent { kind hostname online active }
    ... on EventsMissed { count reason }
  }
}
"""


def task(task_id: str, **fields: Any) -> dict[str, Any]:
    data = {"task_id": task_id, "name": "demo.add", "state": "SUCCESS", "queue": "health"}
    data.update(fields)
    return envelope("task-succeeded", data)


async def publish(redis_url: str, channel: Channel, *messages: dict[str, Any]) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        for message in messages:
            await client.publish(str(channel), json.dumps(message))
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def redis_url(redis_server: EmbeddedRedis) -> str:
    return f"{redis_server.url}/0"


# -- delivery -----------------------------------------------------------------------------------


async def test_task_events_arrive_in_order_from_another_process(
    api: ApiServer, viewer_token: str, redis_url: str
) -> None:
    """Given a subscriber, when a separate process publishes task events, then it gets them all,
    in order, with timestamps read from ISO strings and epoch seconds alike."""
    ids = [f"order-{i}" for i in range(20)]
    messages = [
        task(tid, started_at=1795884110.5 if i % 2 else "2026-11-28T10:00:00Z")
        for i, tid in enumerate(ids)
    ]
    async with subscribed(api.graphql_url, viewer_token, TASK_EVENTS,
                          {"filter": {"names": ["demo.add"]}}) as client:  # fmt: skip
        await eventually(lambda: api.runtime.bus.health().subscribers >= 1)
        await asyncio.to_thread(publish_from_another_process, redis_url, Channel.TASKS, messages)
        received = [(await client.next())["taskEvents"] for _ in ids]
    assert [e["taskId"] for e in received] == ids
    assert {e["__typename"] for e in received} == {"TaskEvent"}
    assert received[0]["startedAt"] == "2026-11-28T10:00:00+00:00"
    assert received[1]["startedAt"].startswith("2026-11-28T")
    assert received[1]["state"] == "SUCCESS"


async def test_worker_events_start_with_the_current_workers(
    api: ApiServer, viewer_token: str, workers: list[Any], redis_url: str
) -> None:
    async with subscribed(api.graphql_url, viewer_token, WORKER_EVENTS) as client:
        first = [(await client.next())["workerEvents"] for _ in workers]
        assert {e["hostname"] for e in first} == {"alpha@tests", "beta@tests"}
        assert {e["kind"] for e in first} == {"worker.current"}
        assert all(e["online"] for e in first)
        await publish(redis_url, Channel.WORKERS,
                      envelope("worker-offline", {"hostname": "gamma@tests"}),
                      envelope("worker-heartbeat", {"hostname": "alpha@tests", "active": 3}))  # fmt: skip
        # Between them may come workers other tests stopped (listed offline) and the live
        # workers' own heartbeats: what this test published arrives in its order among them.
        offline = (await client.next())["workerEvents"]
        while offline["hostname"] != "gamma@tests":
            assert offline["hostname"] in {"alpha@tests", "beta@tests"} or not offline["online"]
            offline = (await client.next())["workerEvents"]
        heartbeat = (await client.next())["workerEvents"]
        while heartbeat.get("active") != 3:
            assert heartbeat["hostname"] in {"alpha@tests", "beta@tests"}
            heartbeat = (await client.next())["workerEvents"]
    assert (offline["hostname"], offline["online"], offline["kind"]) == (
        "gamma@tests", False, "worker-offline",
    )  # fmt: skip
    assert (heartbeat["kind"], heartbeat["hostname"], heartbeat["online"]) == (
        "worker-heartbeat", "alpha@tests", True,
    )  # fmt: skip


async def test_worker_events_for_one_hostname(
    api: ApiServer, viewer_token: str, workers: list[Any], redis_url: str
) -> None:
    async with subscribed(api.graphql_url, viewer_token, WORKER_EVENTS,
                          {"hostname": "beta@tests"}) as client:  # fmt: skip
        current = (await client.next())["workerEvents"]
        assert current["hostname"] == "beta@tests"
        await publish(redis_url, Channel.WORKERS,
                      envelope("worker-heartbeat", {"hostname": "alpha@tests"}),
                      envelope("worker-heartbeat", {"hostname": "beta@tests", "active": 1}))  # fmt: skip
        event = (await client.next())["workerEvents"]
        while event.get("active") != 1:  # the live worker's own heartbeats may come first
            assert event["hostname"] == "beta@tests"
            event = (await client.next())["workerEvents"]
    assert (event["hostname"], event["active"]) == ("beta@tests", 1)


async def test_filters_hold_on_the_server(api: ApiServer, admin_token: str, redis_url: str) -> None:
    """Only FAILURE tasks of demo.fail on queue health whose exception mentions 'boom', started
    in 2026: every other event is filtered out before it reaches the socket. (A text search
    reads task data: an admin's, by default.)"""
    variables = {
        "filter": {
            "states": ["FAILURE"],
            "names": ["demo.fail"],
            "queues": ["health"],
            "text": "BOOM",
            "started": {"after": "2026-01-01T00:00:00", "before": "2027-01-01T00:00:00Z"},
        }
    }
    wanted = dict(name="demo.fail", state="FAILURE", exception="ValueError('boom')",
                  started_at="2026-06-01T12:00:00+00:00")  # fmt: skip
    async with subscribed(api.graphql_url, admin_token, TASK_EVENTS, variables) as client:
        await eventually(lambda: api.runtime.bus.health().subscribers >= 1)
        await publish(
            redis_url,
            Channel.TASKS,
            task("f-wrong-state", **{**wanted, "state": "SUCCESS"}),
            task("f-wrong-name", **{**wanted, "name": "demo.add"}),
            task("f-wrong-queue", **{**wanted, "queue": "ai_analysis"}),
            task("f-wrong-text", **{**wanted, "exception": "KeyError('x')"}),
            task("f-too-early", **{**wanted, "started_at": 1700000000.0}),
            task("f-no-start", **{**wanted, "started_at": None}),
            task("f-match-1", **wanted),
            task("f-match-2", **{**wanted, "started_at": 1790000000.0}),  # epoch, in 2026
        )
        first = (await client.next())["taskEvents"]
        second = (await client.next())["taskEvents"]
    assert [first["taskId"], second["taskId"]] == ["f-match-1", "f-match-2"]


async def test_two_api_processes_both_deliver(
    api: ApiServer, settings: Settings, viewer_token: str, redis_url: str
) -> None:
    with running_api(settings) as second:
        async with (
            subscribed(api.graphql_url, viewer_token, TASK_EVENTS) as a,
            subscribed(second.graphql_url, viewer_token, TASK_EVENTS) as b,
        ):
            await eventually(lambda: second.runtime.bus.health().subscribers >= 1)
            await eventually(lambda: api.runtime.bus.health().subscribers >= 1)
            messages = [task(f"both-{i}") for i in range(5)]
            await asyncio.to_thread(
                publish_from_another_process, redis_url, Channel.TASKS, messages
            )
            got_a = [(await a.next())["taskEvents"]["taskId"] for _ in messages]
            got_b = [(await b.next())["taskEvents"]["taskId"] for _ in messages]
    assert got_a == got_b == [f"both-{i}" for i in range(5)]


async def test_system_status_shows_the_bus(api: ApiServer, viewer_token: str) -> None:

    async with httpx.AsyncClient(timeout=30) as http:
        response = await gql(http, api.graphql_url,
                             "{ systemStatus { eventBus { enabled connected dropped reconnects } } }",
                             token=viewer_token)  # fmt: skip
    bus = response.ok()["systemStatus"]["eventBus"]
    assert bus["enabled"] is True and bus["connected"] is True


# -- authentication and authorisation -----------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"Authorization": "Bearer not-a-jwt"}, {"token": "not-a-jwt"}],
    ids=["null", "empty", "bad-bearer", "bad-token"],
)
async def test_connection_without_a_valid_token_is_closed_4403(
    api: ApiServer, payload: dict[str, Any] | None
) -> None:
    async with graphql_ws(api.graphql_url) as client:
        answer = await client.init(payload)
    assert answer == {"type": "closed", "code": 4403}


async def test_token_without_a_known_role_is_refused(api: ApiServer) -> None:
    """Below viewer there is no role: a well-signed token naming another role gets nowhere."""
    guest = jwt.encode(
        {"sub": "someone", "role": "guest", "exp": int(time.time()) + 600},
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    async with graphql_ws(api.graphql_url) as client:
        answer = await client.init({"Authorization": f"Bearer {guest}"})
    assert answer == {"type": "closed", "code": 4403}


async def test_token_key_is_accepted_as_well_as_authorization(
    api: ApiServer, viewer_token: str
) -> None:
    async with graphql_ws(api.graphql_url) as client:
        answer = await client.init({"token": viewer_token})
    assert answer["type"] == "connection_ack"
    assert answer["payload"]["role"] == "viewer"


async def test_expired_token_is_refused(api: ApiServer, settings: Settings) -> None:
    expired = mint(settings, Role.VIEWER, ttl=timedelta(seconds=-60))
    async with graphql_ws(api.graphql_url) as client:
        answer = await client.init({"Authorization": f"Bearer {expired}"})
    assert answer == {"type": "closed", "code": 4403}


async def test_legacy_protocol_refuses_with_connection_error(api: ApiServer) -> None:
    async with graphql_ws(api.graphql_url, protocol=LEGACY_WS) as client:
        answer = await client.init({"token": "not-a-jwt"})
        code = await client.close_code()
    assert answer["type"] == "connection_error"
    assert answer["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
    assert code == 1011


async def test_legacy_protocol_delivers(api: ApiServer, viewer_token: str, redis_url: str) -> None:
    async with subscribed(api.graphql_url, viewer_token, TASK_EVENTS, protocol=LEGACY_WS) as client:
        await eventually(lambda: api.runtime.bus.health().subscribers >= 1)
        await publish(redis_url, Channel.TASKS, task("legacy-1"))
        event = (await client.next())["taskEvents"]
    assert event["taskId"] == "legacy-1"


async def test_subscription_ends_when_its_token_expires(api: ApiServer, settings: Settings) -> None:
    short = mint(settings, Role.VIEWER, ttl=timedelta(seconds=2))
    started = time.monotonic()
    async with subscribed(api.graphql_url, short, TASK_EVENTS) as client:
        with pytest.raises(SubscriptionError) as raised:
            while True:
                await client.next(within=30)
    assert raised.value.codes == ["UNAUTHENTICATED"]
    assert "expired" in raised.value.errors[0]["message"]
    # valid until exp plus the leeway, as every check judges it
    assert time.monotonic() - started < 10 + settings.jwt_leeway_seconds


async def test_bad_filter_is_refused_with_bad_input(api: ApiServer, viewer_token: str) -> None:
    async with subscribed(api.graphql_url, viewer_token, TASK_EVENTS,
                          {"filter": {"runtimeMin": 5, "runtimeMax": 1}}) as client:  # fmt: skip
        with pytest.raises(SubscriptionError) as raised:
            await client.next()
    assert raised.value.codes == ["BAD_INPUT"]


async def test_cross_origin_handshake_needs_an_allowed_origin(
    redis_server: EmbeddedRedis, database_url: str
) -> None:
    strict = make_settings(redis_server, database_url, allowed_origins="https://admin.example")
    with running_api(strict) as server:
        with pytest.raises(InvalidStatus) as refused:
            async with graphql_ws(server.graphql_url, origin="https://evil.example"):
                pass
        async with graphql_ws(server.graphql_url, origin="https://admin.example") as client:
            token = mint(strict, Role.VIEWER)
            assert (await client.init({"token": token}))["type"] == "connection_ack"
    assert refused.value.response.status_code == 403


# -- robustness ---------------------------------------------------------------------------------


async def test_slow_consumer_is_bounded_and_told_what_it_missed(
    redis_server: EmbeddedRedis, database_url: str, redis_url: str
) -> None:
    """A client that stops reading: the server keeps at most its queue size for it, drops the
    rest, and tells the client how many it missed once it reads again."""
    small = make_settings(redis_server, database_url, bus_queue_size=16)
    token = mint(small, Role.VIEWER)
    blob = "x" * 16_000
    with running_api(small) as server:
        async with subscribed(server.graphql_url, token, TASK_EVENTS, max_queue=1) as client:
            await eventually(lambda: server.runtime.bus.health().subscribers >= 1)
            publisher = aioredis.Redis.from_url(redis_url)
            peak = 0
            for i in range(1500):
                await publisher.publish(
                    str(Channel.TASKS), json.dumps(task(f"slow-{i}", kwargs=blob))
                )
                if i % 100 == 0:
                    peak = max(peak, server.runtime.bus.fanout_stats().max_queued)
            await publisher.aclose()
            await eventually(lambda: server.runtime.bus.health().missed > 0)
            peak = max(peak, server.runtime.bus.fanout_stats().max_queued)
            seen: list[dict[str, Any]] = []
            while not any(e["__typename"] == "EventsMissed" for e in seen):
                seen.append((await client.next())["taskEvents"])
    notice = seen[-1]
    assert notice["reason"] == "SLOW_CONSUMER" and notice["count"] > 0
    assert peak <= 17  # queue size 16, plus one missed notice
    assert len(seen) < 1500


async def test_subscribers_survive_a_redis_restart(database_url: str) -> None:
    """Redis stops and starts again on the same port: the open WebSocket is told messages may be
    missing, then receives what is published after Redis is back, without reconnecting."""
    redis = EmbeddedRedis(port=free_port(), binary=redis_binary())
    redis.start()
    own = make_settings(redis, database_url, bus_canary_interval=0.3)
    token = mint(own, Role.VIEWER)
    url = f"{redis.url}/0"
    try:
        with running_api(own) as server:
            bus = server.runtime.bus
            async with subscribed(server.graphql_url, token, TASK_EVENTS) as client:
                await eventually(lambda: bus.health().subscribers >= 1)
                await publish(url, Channel.TASKS, task("restart-before"))
                assert (await client.next(within=15))["taskEvents"]["taskId"] == "restart-before"
                redis.stop()
                notice = (await client.next(within=20))["taskEvents"]
                assert notice == {"__typename": "EventsMissed", "count": None,
                                  "reason": "BUS_INTERRUPTED"}  # fmt: skip
                redis.start()
                await eventually(lambda: bus.health().connected, within=30)
                await publish(url, Channel.TASKS, task("restart-after"))
                event = (await client.next(within=15))["taskEvents"]
                assert event["taskId"] == "restart-after"
                assert bus.health().reconnects >= 1
    finally:
        redis.stop()


async def test_subscribers_sharing_an_event_get_their_own_selection(
    api: ApiServer, viewer_token: str, redis_url: str
) -> None:
    """Identical operations share one execution per event; different ones must not."""
    narrow = "subscription { taskEvents { ... on TaskEvent { taskId } } }"
    wide = "subscription { taskEvents { ... on TaskEvent { taskId name queue } } }"
    async with (
        subscribed(api.graphql_url, viewer_token, narrow) as a,
        subscribed(api.graphql_url, viewer_token, wide) as b,
        subscribed(api.graphql_url, viewer_token, wide) as c,
    ):
        await eventually(lambda: api.runtime.bus.health().subscribers >= 3)
        await publish(redis_url, Channel.TASKS, task("shared-1"))
        got = [(await client.next())["taskEvents"] for client in (a, b, c)]
    assert got[0] == {"taskId": "shared-1"}
    assert got[1] == got[2] == {"taskId": "shared-1", "name": "demo.add", "queue": "health"}
