"""Issue 10 (floods): rate limits while Redis is away: a stricter budget per process, bounded
memory, said once in the log; counted in Redis again once it is back. A redis-server of the
test's own is stopped and restarted (on the same port)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis import asyncio as aioredis

from src.auth.roles import Role
from src.embedded_redis import EmbeddedRedis
from src.security import rate_limit
from src.security.rate_limit import Bucket, Budgets, RateLimited, RateLimiter
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, make_settings, redis_binary, running_api
from tests.support.waiting import fresh_window

BUDGETS = Budgets(subject=8, anonymous=8, denied=4)


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def limiter(own_redis: EmbeddedRedis) -> AsyncIterator[RateLimiter]:
    client = aioredis.Redis.from_url(own_redis.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        yield RateLimiter(client, BUDGETS)
    finally:
        await client.aclose()


async def hits_until_refused(limiter: RateLimiter, who: str, most: int = 50) -> int:
    """How many requests of `who` pass before the anonymous budget refuses one."""
    for n in range(most):
        try:
            await limiter.hit(Bucket.ANONYMOUS, who)
        except RateLimited:
            return n
    raise AssertionError(f"{most} requests passed")


async def test_while_redis_is_down_a_stricter_local_budget_holds(
    own_redis: EmbeddedRedis,
    limiter: RateLimiter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(rate_limit, "RETRY_REDIS_SECONDS", 0.0)  # Redis tried on every request
    monkeypatch.setattr(rate_limit, "_LOCAL_KEYS", 50)
    assert await hits_until_refused(limiter, "10.0.0.1") == 8  # the shared budget, in Redis
    assert not limiter.degraded

    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="celery_admin.security"):
        # a quarter of the budget in each process (8 -> 2), not the whole budget per replica
        assert await hits_until_refused(limiter, "10.0.0.2") == 2
        assert limiter.degraded
        assert limiter.blocked("10.0.0.2") is not None  # the shield refuses it too
        for n in range(200):  # a flood of addresses: the counters stay bounded
            await limiter.hit(Bucket.ANONYMOUS, f"10.1.{n // 250}.{n % 250}")
        assert limiter.local_counters <= 50
    down = [r for r in caplog.records if "counted in this process" in r.getMessage()]
    assert len(down) == 1, [r.getMessage() for r in caplog.records]  # once, not per request

    own_redis.start()  # the same port
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="celery_admin.security"):
        deadline = time.monotonic() + 30
        while limiter.degraded:  # redis-py reconnects on the next request that tries
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            await limiter.count(Bucket.SUBJECT, "probe")
            await asyncio.sleep(0.05)
        assert await hits_until_refused(limiter, "10.0.0.3") == 8  # shared again
    assert any("counted in Redis again" in r.getMessage() for r in caplog.records)


async def test_a_down_redis_is_not_asked_on_every_request(
    own_redis: EmbeddedRedis, limiter: RateLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failure, RETRY_REDIS_SECONDS (5 s) without a connection attempt: a Redis that
    is away must not cost each request a connect timeout."""
    monkeypatch.setattr(rate_limit, "RETRY_REDIS_SECONDS", 3600.0)
    own_redis.stop()
    await limiter.hit(Bucket.SUBJECT, "someone")
    assert limiter.degraded
    own_redis.start()
    # Redis is back, but within the retry interval the limiter stays local
    await limiter.hit(Bucket.SUBJECT, "someone")
    assert limiter.degraded


async def degraded_in_graphql(http: httpx.AsyncClient, api: ApiServer, token: str) -> list[str]:
    body = await gql(http, api.graphql_url, "{ systemStatus { degraded } }", token=token)
    return list(body.ok()["systemStatus"]["degraded"])


async def test_the_api_keeps_a_stricter_budget_while_its_redis_is_away(
    own_redis: EmbeddedRedis, redis_server: EmbeddedRedis, database_url: str
) -> None:
    """End to end: the API's own Redis (PUBSUB_URL: budgets, leader lease, the bus) stops; the
    anonymous budget of 8 becomes 2 in this process, health and `systemStatus` say so without
    failing; Redis comes back on its port and the shared budget with it."""
    settings = make_settings(
        redis_server,
        database_url,
        pubsub_url=f"{own_redis.url}/0",
        trusted_proxies="127.0.0.1",
        rate_limit_anonymous_per_minute=8,
        rate_limit_denied_per_minute=4,
        rate_limit_tarpit_seconds=0,
    )
    health = "/celery-admin/system/health"

    async def passed(http: httpx.AsyncClient, api: ApiServer, ip: str) -> int:
        """Anonymous requests of `ip` answered before the first 429."""
        for n in range(50):
            response = await http.post(
                api.graphql_url,
                json={"query": "{ systemInfo { name } }"},
                headers={"X-Forwarded-For": ip},
            )
            if response.status_code == 429:
                return n
            assert response.status_code == 200, response.text
        raise AssertionError("never refused")

    token = mint(settings, Role.VIEWER)
    with running_api(settings) as api:
        async with httpx.AsyncClient(timeout=30) as http:
            await fresh_window()
            assert await passed(http, api, "10.9.0.1") == 8
            assert (await http.get(api.url + health)).json()["degraded"] == []
            assert await degraded_in_graphql(http, api, token) == []

            own_redis.stop()
            assert await passed(http, api, "10.9.0.2") == 2
            down = await http.get(api.url + health)
            assert down.status_code == 200, down.text  # still serving: not a failure
            assert "rate limits are counted in this process" in down.json()["degraded"][0]
            assert await degraded_in_graphql(http, api, token) == down.json()["degraded"]

            own_redis.start()
            deadline = time.monotonic() + 60
            while (await http.get(api.url + health)).json()["degraded"]:
                # Redis is tried again 5 s after the failure, on a request that counts
                assert time.monotonic() < deadline, "the budgets never went back to Redis"
                await http.post(
                    api.graphql_url,
                    json={"query": "{ systemInfo { name } }"},
                    headers={"X-Forwarded-For": f"10.9.1.{int(time.monotonic() * 10) % 250}"},
                )
                await asyncio.sleep(0.2)
            assert await degraded_in_graphql(http, api, token) == []
            await fresh_window()
            assert await passed(http, api, "10.9.0.3") == 8
