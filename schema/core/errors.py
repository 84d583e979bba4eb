"""Error shaping: expected failures keep their message and gain `extensions.code`; anything else
is logged with its traceback and masked as INTERNAL. Every error also carries the request id
(`extensions.requestId`, see src/logs), so a client's report leads to the server's log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from src.errors import AppError, ErrorCode
from src.logs import current_request_id
from src.security.masking import mask_text
from src.security.production import without_suggestions

log = logging.getLogger("celery_admin.graphql")

# Registers the domain enum with Strawberry (it annotates the class in place).
ErrorCodeEnum = strawberry.enum(ErrorCode, name="ErrorCode", description="A stable error code.")

MASKED_MESSAGE = "Unexpected error."


def shape(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:  # syntax, validation, variable coercion: the caller's mistake
        code = (error.extensions or {}).get("code") or ErrorCode.BAD_INPUT.value
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    if isinstance(original, AppError):
        error.message = mask_text(error.message)  # a URL or password=... in a failure's text
        extensions = {**(error.extensions or {}), "code": original.code.value}
        if original.field:
            extensions["field"] = original.field
        if original.details:
            extensions["details"] = original.details
        error.extensions = extensions
        return error
    if isinstance(original, GraphQLError):
        return shape(original)
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


def with_request_id(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors, each naming this request's id (also in the X-Request-ID header and the logs)."""
    request_id = current_request_id()
    if request_id is not None:
        for error in errors:
            error.extensions = {**(error.extensions or {}), "requestId": request_id}
    return errors


def _shape_all(errors: list[GraphQLError]) -> list[GraphQLError]:
    return with_request_id([shape(error) for error in errors])


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors worth a log line: neither the caller's mistake nor an expected failure."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original is not None and not isinstance(original, AppError)


class ErrorCodes(SchemaExtension):
    def _shaped(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        shaped = _shape_all(errors)
        if getattr(self.execution_context.context, "production", False):
            for error in shaped:  # no "Did you mean ...?" naming fields to strangers
                if error.original_error is None:
                    error.message = without_suggestions(error.message)
        return shaped

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = self._shaped(result.errors)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result a subscription (WebSocket) sends: shaped before it goes out."""
        if getattr(result, "errors", None):
            result.errors = self._shaped(result.errors)
        yield


__all__ = [
    "MASKED_MESSAGE",
    "ErrorCodeEnum",
    "ErrorCodes",
    "is_unexpected",
    "shape",
    "with_request_id",
]
