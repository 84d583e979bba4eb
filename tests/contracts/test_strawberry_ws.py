"""Contract: what schema/adapters/ws_handlers.py relies on in Strawberry's internal WebSocket
protocol handlers, and the behaviour it adds (a null connection_init payload is a connection
without a token, refused with our codes instead of Strawberry's 4400)."""

from __future__ import annotations

import inspect

from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from schema.adapters.ws_handlers import LegacyWSHandler, TransportWSHandler
from schema.core.transport import CeleryAdminRouter
from tests.support.servers import ApiServer
from tests.support.ws import LEGACY_WS, graphql_ws


def test_the_internal_handlers_have_the_shape_we_override() -> None:
    for ours, theirs in (
        (TransportWSHandler, BaseGraphQLTransportWSHandler),
        (LegacyWSHandler, BaseGraphQLWSHandler),
    ):
        assert issubclass(ours, theirs)
        method = theirs.handle_connection_init
        assert inspect.iscoroutinefunction(method)
        assert list(inspect.signature(method).parameters) == ["self", "message"]
    for name, parameters in (
        ("handle_message", ["self", "message"]),
        ("run_operation", ["self", "operation"]),
    ):
        method = getattr(BaseGraphQLTransportWSHandler, name)
        assert inspect.iscoroutinefunction(method), name
        assert list(inspect.signature(method).parameters) == parameters, name
    assert {"id", "query", "operation_name", "send_operation_message"} <= set(dir(Operation))
    for attribute in ("graphql_transport_ws_handler_class", "graphql_ws_handler_class"):
        assert hasattr(GraphQLRouter, attribute), attribute
    assert CeleryAdminRouter.graphql_transport_ws_handler_class is TransportWSHandler
    assert CeleryAdminRouter.graphql_ws_handler_class is LegacyWSHandler
    assert inspect.iscoroutinefunction(GraphQLRouter.on_ws_connect)


async def test_a_null_payload_is_a_connection_without_a_token(api: ApiServer) -> None:
    async with graphql_ws(api.graphql_url) as client:
        assert await client.init(None) == {"type": "closed", "code": 4403}  # Strawberry: 4400
    async with graphql_ws(api.graphql_url, protocol=LEGACY_WS) as client:
        answer = await client.init(None)
    assert answer["type"] == "connection_error"
    assert answer["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
