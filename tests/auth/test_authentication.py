"""Who may ask: no token, a bad one, an expired one, and each role."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from src.auth.roles import Role
from src.config import Settings
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer

STATUS = "{ systemStatus { health } }"


async def test_no_token_is_unauthenticated(api: ApiServer, http: httpx.AsyncClient) -> None:
    response = await gql(http, api.graphql_url, STATUS)
    assert response.codes == ["UNAUTHENTICATED"]
    assert response.data is None


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer not-a-jwt", "malformed"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        (
            "Bearer "
            + jwt.encode({"sub": "x", "role": "admin", "exp": 9999999999}, "wrong-key-" * 4),
            "signature",
        ),
    ],
)
async def test_bad_tokens_are_unauthenticated(
    api: ApiServer, http: httpx.AsyncClient, header: str, reason: str
) -> None:
    response = await gql(http, api.graphql_url, STATUS, headers={"Authorization": header})
    assert response.codes == ["UNAUTHENTICATED"]
    assert reason in response.errors[0]["message"]


async def test_expired_token_is_unauthenticated(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings
) -> None:
    token = mint(settings, Role.ADMIN, ttl=timedelta(seconds=-60))
    response = await gql(http, api.graphql_url, STATUS, token=token)
    assert response.codes == ["UNAUTHENTICATED"]
    assert "expired" in response.errors[0]["message"]


async def test_unknown_role_is_unauthenticated(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings
) -> None:
    token = jwt.encode({"sub": "x", "role": "root", "exp": 9999999999}, settings.hs256_keys()[0])
    response = await gql(http, api.graphql_url, STATUS, token=token)
    assert response.codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_read(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings, role: Role
) -> None:
    response = await gql(http, api.graphql_url, STATUS, token=mint(settings, role))
    assert response.ok()["systemStatus"]["health"] in {"HEALTHY", "DEGRADED", "UNHEALTHY"}


async def test_info_and_health_are_open(api: ApiServer, http: httpx.AsyncClient) -> None:
    info = await http.get(f"{api.url}/celery-admin/system/info")
    assert info.status_code == 200
    assert info.json()["name"] == "celery-admin"
    open_query = await gql(http, api.graphql_url, "{ systemInfo { name version } }")
    assert open_query.ok()["systemInfo"]["name"] == "celery-admin"
