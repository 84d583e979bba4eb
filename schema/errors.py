"""Error shaping: expected failures keep their message and gain `extensions.code`; anything else
is logged with its traceback and masked as INTERNAL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from src.errors import AppError, ErrorCode

log = logging.getLogger("celery_admin.graphql")

MASKED_MESSAGE = "Unexpected error."


def _shape(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:  # syntax, validation, variable coercion: the caller's mistake
        code = (error.extensions or {}).get("code") or ErrorCode.BAD_INPUT.value
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    if isinstance(original, AppError):
        extensions = {**(error.extensions or {}), "code": original.code.value}
        if original.field:
            extensions["field"] = original.field
        if original.details:
            extensions["details"] = original.details
        error.extensions = extensions
        return error
    if isinstance(original, GraphQLError):
        return _shape(original)
    log.error("unexpected error in %s", error.path, exc_info=original)
    return GraphQLError(
        MASKED_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": ErrorCode.INTERNAL.value},
    )


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors worth a log line: neither the caller's mistake nor an expected failure."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original is not None and not isinstance(original, AppError)


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_shape(error) for error in result.errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result a subscription (WebSocket) sends: shaped before it goes out."""
        if getattr(result, "errors", None):
            result.errors = [_shape(error) for error in result.errors]
        yield


__all__ = ["MASKED_MESSAGE", "ErrorCodes", "is_unexpected"]
