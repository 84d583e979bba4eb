"""The request id on the session's API: in the header of every HTTP response, in every GraphQL
error over HTTP, and in the errors a WebSocket subscription receives (the handshake's id)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.servers import ApiServer
from tests.support.ws import SubscriptionError, subscribed

BAD_SUBSCRIPTION = "subscription { alerts(minSeverity: NOT_A_SEVERITY) { __typename } }"


async def test_http_errors_and_header_share_the_id(api: ApiServer, http: httpx.AsyncClient) -> None:
    response = await http.post(
        api.graphql_url,
        json={"query": "{ systemStatus { health } }"},
        headers={"X-Request-ID": "abc:1"},
    )
    assert response.headers["x-request-id"] == "abc:1"
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "requestId": "abc:1"}

    health = await http.get(
        api.url + "/celery-admin/system/health", headers={"X-Request-ID": "a b"}
    )
    assert re.fullmatch(r"[0-9a-f]{32}", health.headers["x-request-id"])


async def test_subscription_errors_carry_the_connection_id(
    api: ApiServer, viewer_token: str
) -> None:
    async with subscribed(api.graphql_url, viewer_token, BAD_SUBSCRIPTION) as client:
        with pytest.raises(SubscriptionError) as raised:
            await client.next()
    extensions = raised.value.errors[0]["extensions"]
    assert re.fullmatch(r"[0-9a-f]{32}", extensions["requestId"])
    assert extensions["code"] == "BAD_INPUT"
