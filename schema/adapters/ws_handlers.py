"""Adapter over Strawberry's internal WebSocket protocol handlers (pinned: strawberry-graphql 0.341).

The places we override them:
- a `connection_init` whose payload is null counts as one without a token (the
  graphql-transport-ws and graphql-ws protocols allow null; Strawberry alone closes with 4400),
  so the router's `on_ws_connect` can refuse it with our codes;
- graphql-transport-ws: a query or mutation runs within REQUEST_DEADLINE_SECONDS, as over HTTP,
  and past it is answered an `error` message with the code TIMEOUT (a subscription is exempt: it
  lives as long as the client wants; each of its results is bounded by the caps and the bus);
- graphql-transport-ws: an unexpected failure while handling a message closes the socket with
  4500 (Internal server error), as the protocol says, instead of tearing it down unexplained.
What we rely on, checked by tests/contracts/test_strawberry_ws.py: the two handler classes at
these import paths, their `handle_connection_init(message)`, `handle_message(message)` and
`run_operation(operation)` coroutines, the operation's `id`, `query`, `operation_name` and
`send_operation_message`, the handler's `context` and `websocket.close(code=, reason=)`, and the
router's `graphql_transport_ws_handler_class` / `graphql_ws_handler_class` attributes.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, GraphQLFormattedError, OperationType, parse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ErrorMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from src.errors import ErrorCode
from src.security.document import operation_of

log = logging.getLogger("celery_admin.websocket")

_PARSE_TOKENS = 50_000  # past this the operation is no subscription we serve: the caps refuse it


def _null_payload_as_empty(message: Any) -> Any:
    if isinstance(message, dict) and message.get("payload", {}) is None:
        return {**message, "payload": {}}
    return message


@lru_cache(maxsize=128)
def is_subscription(query: str, operation_name: str | None) -> bool:
    """Whether the operation a subscribe message names is a subscription (unparsable: no)."""
    try:
        document = parse(query, max_tokens=_PARSE_TOKENS, no_location=True)
    except GraphQLError:
        return False
    operation = operation_of(document, operation_name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def timeout_error(deadline: float) -> GraphQLFormattedError:
    return {
        "message": f"the operation ran past its deadline of {deadline:g} s "
        "(REQUEST_DEADLINE_SECONDS)",
        "extensions": {"code": ErrorCode.TIMEOUT.value},
    }


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(_null_payload_as_empty(message))

    async def handle_message(self, message: Any) -> None:
        try:
            await super().handle_message(message)
        except WebSocketDisconnected:
            raise
        except Exception:
            log.exception("a WebSocket message could not be handled: closing with 4500")
            with suppress(Exception):
                await self.websocket.close(code=4500, reason="Internal server error")

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        deadline: float | None = getattr(self.context, "deadline_seconds", None)
        query = operation.query if isinstance(operation.query, str) else ""
        if deadline is None or is_subscription(query, operation.operation_name):
            await super().run_operation(operation)
            return
        try:
            async with asyncio.timeout(deadline):
                await super().run_operation(operation)
        except TimeoutError:
            error: ErrorMessage = {
                "id": operation.id,
                "type": "error",
                "payload": [timeout_error(deadline)],
            }
            with suppress(Exception):
                await operation.send_operation_message(error)


class LegacyWSHandler(BaseGraphQLWSHandler[Any, None]):
    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(_null_payload_as_empty(message))


__all__ = ["LegacyWSHandler", "TransportWSHandler", "is_subscription", "timeout_error"]
