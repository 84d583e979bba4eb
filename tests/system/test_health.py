"""Health: 200 when every dependency answers, 503 naming Redis while it is down, 200 again after."""

from __future__ import annotations

import asyncio

import httpx

from src.embedded_redis import EmbeddedRedis
from tests.support.brokers import create_vhost, delete_vhost, session_broker, vhost_of
from tests.support.graphql import gql
from tests.support.servers import make_settings, redis_binary, running_api

HEALTH = "/celery-admin/system/health"


async def _wait_for_status(
    http: httpx.AsyncClient, url: str, status: int, within: float = 60
) -> httpx.Response:
    """Poll the probe as a load balancer would, until it says `status`."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await http.get(url)
        if response.status_code == status or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_health_follows_the_broker_down_and_back(
    http: httpx.AsyncClient, database_url: str, viewer_token: str, broker_kind: str
) -> None:
    """Redis run: the Redis (broker and results) stops and starts again on its port. amqp run: the
    broker's vhost is deleted (RabbitMQ closes its connections and refuses new ones) and made
    again; results stay on Redis."""
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    try:
        with session_broker(redis) as broker_url:
            settings = make_settings(redis, database_url)
            with running_api(settings) as api:
                # every probe is bounded (2 s): on a loaded machine the first may miss it
                healthy = await _wait_for_status(http, api.url + HEALTH, 200)
                assert healthy.status_code == 200, healthy.text
                assert healthy.json()["failing"] == []

                if broker_kind == "redis":
                    redis.stop()
                else:
                    await asyncio.to_thread(delete_vhost, vhost_of(broker_url))
                down = await _wait_for_status(http, api.url + HEALTH, 503)
                assert down.status_code == 503
                failing = down.json()["failing"]
                assert "broker" in failing
                assert ("result_backend" in failing) is (broker_kind == "redis")
                status = await gql(
                    http,
                    api.graphql_url,
                    "{ systemStatus { health broker { ok detail } } }",
                    token=viewer_token,
                )
                assert status.ok()["systemStatus"]["health"] == "UNHEALTHY"
                assert status.ok()["systemStatus"]["broker"]["ok"] is False
                workers = await gql(
                    http, api.graphql_url, "{ workers { hostname } }", token=viewer_token
                )
                assert workers.codes == ["BROKER_UNAVAILABLE"]

                if broker_kind == "redis":
                    redis.start()  # same port: the API reconnects by itself
                else:
                    await asyncio.to_thread(create_vhost, vhost_of(broker_url))
                back = await _wait_for_status(http, api.url + HEALTH, 200)
                assert back.status_code == 200, back.text
    finally:
        redis.stop()


async def test_alias_floods_are_refused(api, http: httpx.AsyncClient, viewer_token: str) -> None:  # type: ignore[no-untyped-def]
    """One request must not fan out into hundreds of resolutions."""
    flood = "query { " + " ".join(f"a{i}: systemInfo {{ name }}" for i in range(60)) + " }"
    response = await gql(http, api.graphql_url, flood, token=viewer_token)
    assert response.data is None
    assert response.codes == ["QUERY_TOO_COMPLEX"]  # counted before validation (src/security)
    assert "alias" in response.errors[0]["message"].lower()
