"""The production profile (CELERY_ADMIN_ENV=production) against the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from src.auth.roles import Role
from src.config import Settings
from src.embedded_redis import EmbeddedRedis
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, make_settings, running_api
from tests.support.ws import graphql_ws

INTROSPECT = "{ __schema { queryType { name } } }"


@pytest.fixture(scope="module")
def production_settings(redis_server: EmbeddedRedis, database_url: str) -> Settings:
    return make_settings(
        redis_server,
        database_url,
        celery_admin_env="production",
        allowed_origins="*,https://ops.example.com",
    )


@pytest.fixture(scope="module")
def production(production_settings: Settings) -> Iterator[ApiServer]:
    with running_api(production_settings) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def test_no_graphiql_and_no_docs(production: ApiServer, client: httpx.AsyncClient) -> None:
    page = await client.get(production.graphql_url, headers={"accept": "text/html"})
    assert page.status_code == 404
    assert (await client.get(f"{production.url}/celery-admin/docs")).status_code == 404
    assert (await client.get(f"{production.url}/celery-admin/openapi.json")).status_code == 404


async def test_introspection_needs_an_admin(
    production: ApiServer, client: httpx.AsyncClient, production_settings: Settings
) -> None:
    anonymous = await gql(client, production.graphql_url, INTROSPECT)
    assert anonymous.codes == ["UNAUTHENTICATED"]
    viewer = mint(production_settings, Role.VIEWER)
    assert (await gql(client, production.graphql_url, INTROSPECT, token=viewer)).codes == [
        "FORBIDDEN"
    ]
    admin = mint(production_settings, Role.ADMIN)
    answer = await gql(client, production.graphql_url, INTROSPECT, token=admin)
    assert answer.ok() == {"__schema": {"queryType": {"name": "Query"}}}


async def test_validation_errors_suggest_no_fields(
    production: ApiServer, client: httpx.AsyncClient, production_settings: Settings
) -> None:
    viewer = mint(production_settings, Role.VIEWER)
    wrong = await gql(client, production.graphql_url, "{ queue { nam } }", token=viewer)
    assert wrong.codes and all(code == "BAD_INPUT" for code in wrong.codes)
    assert not any("Did you mean" in e["message"] for e in wrong.errors), wrong.errors


async def test_metrics_need_their_token(production: ApiServer, client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{production.url}/metrics")).status_code == 401


async def test_websocket_origins_are_same_origin_unless_listed(
    production: ApiServer, production_settings: Settings
) -> None:
    token = mint(production_settings, Role.VIEWER)
    with pytest.raises(InvalidStatus):  # the "*" counts for nothing in production
        async with graphql_ws(production.graphql_url, origin="https://evil.example.com"):
            pass
    for origin in ("https://ops.example.com", production.url):
        async with graphql_ws(production.graphql_url, origin=origin) as ws:
            ack = await ws.init({"Authorization": f"Bearer {token}"})
            assert ack["type"] == "connection_ack"


async def test_health_tells_strangers_only_the_status(
    production: ApiServer, client: httpx.AsyncClient, production_settings: Settings
) -> None:
    health = f"{production.url}/celery-admin/system/health"
    anonymous = await client.get(health)
    assert anonymous.status_code in (200, 503)
    assert set(anonymous.json()) == {"status"}
    viewer = mint(production_settings, Role.VIEWER)
    detailed = await client.get(health, headers={"Authorization": f"Bearer {viewer}"})
    assert "components" in detailed.json()
