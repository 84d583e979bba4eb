"""A small GraphQL-over-WebSocket client for the tests: graphql-transport-ws and legacy graphql-ws,
over the `websockets` library, against the real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class SubscriptionError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


class GraphQLWebSocket:
    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 60.0) -> dict[str, Any]:
        """The next message other than keep-alives and pings."""
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), within)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") in ("ka", "pong"):
                continue
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        """Send connection_init; the server's answer: connection_ack, connection_error, or
        `{"type": "closed", "code": <close code>}` when it closed the connection instead."""
        await self.send({"type": "connection_init", "payload": payload})
        try:
            return await self.receive()
        except ConnectionClosed as closed:
            return {"type": "closed", "code": closed.rcvd.code if closed.rcvd else None}

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, op_id: str = "1"
    ) -> None:
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.send({"type": kind, "id": op_id, "payload": payload})

    async def next(self, op_id: str = "1", within: float = 60.0) -> dict[str, Any]:
        """The data of the operation's next result; SubscriptionError for errors; StopAsyncIteration
        when it completed."""
        while True:
            message = await self.receive(within)
            if message.get("id") != op_id:
                continue
            kind = message["type"]
            if kind in ("next", "data"):
                payload = message["payload"]
                if payload.get("errors"):
                    raise SubscriptionError(payload["errors"])
                return dict(payload["data"])
            if kind == "error":
                errors = message["payload"]
                raise SubscriptionError(errors if isinstance(errors, list) else [errors])
            if kind == "complete":
                raise StopAsyncIteration
            raise AssertionError(f"unexpected message {message}")

    async def close_code(self, within: float = 60.0) -> int | None:
        """Wait until the server closes the connection; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), within)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


@asynccontextmanager
async def graphql_ws(
    http_url: str,
    *,
    protocol: str = TRANSPORT_WS,
    origin: str | None = None,
    max_queue: int | None = 16,
) -> AsyncIterator[GraphQLWebSocket]:
    async with connect(
        ws_url(http_url),
        subprotocols=[Subprotocol(protocol)],
        origin=Origin(origin) if origin else None,
        max_queue=max_queue,
        max_size=None,
        compression=None,
    ) as ws:
        yield GraphQLWebSocket(ws, protocol)


@asynccontextmanager
async def subscribed(
    http_url: str,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[GraphQLWebSocket]:
    """A connection initialised with `token` and one subscription (id "1") started."""
    async with graphql_ws(http_url, **options) as client:
        ack = await client.init({"Authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        await client.subscribe(query, variables)
        yield client


__all__ = [
    "LEGACY_WS",
    "TRANSPORT_WS",
    "GraphQLWebSocket",
    "SubscriptionError",
    "graphql_ws",
    "subscribed",
    "ws_url",
]
