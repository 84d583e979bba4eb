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


class CeleryAdminRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _LegacyWSHandler

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
