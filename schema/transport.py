"""The GraphQL router: HTTP plus both WebSocket protocols (graphql-transport-ws, legacy graphql-ws).

A WebSocket is authenticated once, at `connection_init`, from its payload
(`{"Authorization": "Bearer <jwt>"}` or `{"token": "<jwt>"}`): no token or a bad one refuses the
connection (graphql-transport-ws closes with 4403, graphql-ws answers `connection_error`). Each
subscription still checks its role when it starts and ends when the token expires. A
`connection_init` whose payload is null counts as one without a token (the protocol allows null;
Strawberry alone would close with 4400). Cross-origin handshakes are allowed only from
ALLOWED_ORIGINS.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.unset import UnsetType

from schema.context import Context
from src.auth.roles import Role
from src.errors import ErrorCode, Unauthenticated


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_connection_init(self, message: Any) -> None:
        if isinstance(message, dict) and message.get("payload", {}) is None:
            message = {**message, "payload": {}}
        await super().handle_connection_init(message)


class _LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_connection_init(self, message: Any) -> None:
        if isinstance(message, dict) and message.get("payload", {}) is None:
            message = {**message, "payload": {}}
        await super().handle_connection_init(message)


def _rejection(code: ErrorCode, message: str) -> ConnectionRejectionError:
    return ConnectionRejectionError({"message": message, "extensions": {"code": code.value}})


_STREAMED = ("next", "data")  # result messages of graphql-transport-ws and graphql-ws
_encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()
_ENCODED_SIZE = 256


def _encode_data(data: object) -> str:
    """JSON of a result's `data`, once per result object: subscribers that share an execution
    (schema/shared_results.py) share the encoding too."""
    hit = _encoded.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    text = json.dumps(data, separators=(",", ":"))
    _encoded[id(data)] = (data, text)  # holding `data` keeps its id unique
    while len(_encoded) > _ENCODED_SIZE:
        _encoded.popitem(last=False)
    return text


class CeleryAdminRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _LegacyWSHandler

    def encode_json(self, data: object) -> str | bytes:
        if isinstance(data, dict) and data.get("type") in _STREAMED:
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                return '{"id":%s,"type":"%s","payload":{"data":%s}}' % (  # noqa: UP031
                    json.dumps(data.get("id")),
                    data["type"],
                    _encode_data(payload["data"]),
                )
        return super().encode_json(data)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        try:
            principal = context.principal()
        except Unauthenticated as exc:
            raise _rejection(ErrorCode.UNAUTHENTICATED, exc.message) from None
        if principal is None:
            raise _rejection(
                ErrorCode.UNAUTHENTICATED,
                'send the token in connection_init: {"Authorization": "Bearer <token>"}',
            )
        if not principal.has(Role.VIEWER):
            raise _rejection(ErrorCode.FORBIDDEN, f"requires role {Role.VIEWER.claim}")
        return {"subject": principal.subject, "role": principal.role.claim}


__all__ = ["CeleryAdminRouter"]
