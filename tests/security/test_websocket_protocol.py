"""graphql-transport-ws close codes as the protocol says, and the document caps over WebSocket."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.servers import ApiServer
from tests.support.ws import SubscriptionError, graphql_ws, ws_url

EVENTS = "subscription { taskEvents { __typename } }"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_message_that_is_not_json_closes_4400(api: ApiServer) -> None:
    async with graphql_ws(api.graphql_url) as client:
        await client.ws.send("{not json")
        assert await client.close_code() == 4400


async def test_an_unknown_message_type_closes_4400(api: ApiServer, viewer_token: str) -> None:
    async with graphql_ws(api.graphql_url) as client:
        assert (await client.init(bearer(viewer_token)))["type"] == "connection_ack"
        await client.send({"type": "no-such-type", "id": "1"})
        assert await client.close_code() == 4400


async def test_subscribe_before_the_ack_closes_4401(api: ApiServer) -> None:
    async with graphql_ws(api.graphql_url) as client:
        await client.subscribe(EVENTS)
        assert await client.close_code() == 4401


async def test_a_refused_token_closes_4403(api: ApiServer) -> None:
    async with graphql_ws(api.graphql_url) as client:
        assert await client.init(bearer("not.a.token")) == {"type": "closed", "code": 4403}


async def test_a_second_subscription_with_the_same_id_closes_4409(
    api: ApiServer, viewer_token: str
) -> None:
    async with graphql_ws(api.graphql_url) as client:
        assert (await client.init(bearer(viewer_token)))["type"] == "connection_ack"
        await client.subscribe(EVENTS, op_id="same")
        await client.subscribe(EVENTS, op_id="same")
        assert await client.close_code() == 4409


async def test_a_second_connection_init_closes_4429(api: ApiServer, viewer_token: str) -> None:
    async with graphql_ws(api.graphql_url) as client:
        assert (await client.init(bearer(viewer_token)))["type"] == "connection_ack"
        await client.send({"type": "connection_init", "payload": bearer(viewer_token)})
        assert await client.close_code() == 4429


async def test_an_unknown_subprotocol_closes_4406(api: ApiServer) -> None:
    async with connect(
        ws_url(api.graphql_url), subprotocols=[Subprotocol("graphql-nonsense")]
    ) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406


async def test_document_caps_hold_over_websocket(api: ApiServer, viewer_token: str) -> None:
    flood = "subscription { " + "a%d: taskEvents { __typename } " * 60 + "}"
    async with graphql_ws(api.graphql_url) as client:
        assert (await client.init(bearer(viewer_token)))["type"] == "connection_ack"
        await client.subscribe(flood % tuple(range(60)))
        with pytest.raises(SubscriptionError) as refused:
            await client.next()
    assert refused.value.codes == ["QUERY_TOO_COMPLEX"], json.dumps(refused.value.errors)


async def test_an_internal_failure_closes_4500(
    api: ApiServer, viewer_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a fault inside the server")

    # the handshake's last step fails unexpectedly (not a refusal: a bug, an outage)
    monkeypatch.setattr(api.runtime.revocations, "track", broken)
    async with graphql_ws(api.graphql_url) as client:
        assert await client.init(bearer(viewer_token)) == {"type": "closed", "code": 4500}
