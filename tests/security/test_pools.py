"""Redis pools wait for a connection instead of failing, work is shared within a request, and the
sampler and purge have pools of their own (issue 10: 20 aliases of `alerts` answered
BROKER_UNAVAILABLE for everyone, 50 aliases of `queues` INTERNAL)."""

from __future__ import annotations

import asyncio

import httpx

from src.brokers.redis_queues import RedisQueueBackend
from src.embedded_redis import EmbeddedRedis
from src.monitoring.state import RedisStateStore
from tests.support.graphql import gql
from tests.support.servers import ApiServer


async def test_more_callers_than_connections_wait_their_turn(redis_server: EmbeddedRedis) -> None:
    state = RedisStateStore(f"{redis_server.url}/0", namespace="pool-test")
    queues = RedisQueueBackend(f"{redis_server.url}/0")
    try:
        # 8 and 16 connections: five times as many callers at once
        await asyncio.gather(*(state.hgetall("nothing") for _ in range(40)))
        await asyncio.gather(*(queues.ping() for _ in range(80)))
    finally:
        await state.close()
        await queues.close()


async def test_many_aliases_of_alerts_and_queues_answer(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    alerts = "{ " + " ".join(f"a{n}: alerts {{ key }}" for n in range(20)) + " }"
    answer = await gql(http, api.graphql_url, alerts, token=viewer_token)
    assert answer.errors == [] and len(answer.ok()) == 20
    queues = "{ " + " ".join(f"q{n}: queues {{ name }}" for n in range(50)) + " }"
    answer = await gql(http, api.graphql_url, queues, token=viewer_token)
    assert answer.errors == [] and len({str(v) for v in answer.ok().values()}) == 1


def test_the_sampler_and_purge_do_not_share_the_api_pool(api: ApiServer) -> None:
    runtime = api.runtime
    pools = {
        id(runtime.queues.backend),
        id(runtime.monitoring.queues.backend),
        id(runtime.control.queues.backend),
    }
    assert len(pools) == 3
