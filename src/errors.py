"""Expected failures with a stable code, independent of GraphQL.

The schema layer turns an `AppError` into a GraphQL error whose `extensions.code` is the code below;
anything else that escapes a resolver is masked and logged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_INPUT = "BAD_INPUT"
    CONFLICT = "CONFLICT"
    BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
    BACKEND_UNAVAILABLE = "BACKEND_UNAVAILABLE"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    WORKER_UNAVAILABLE = "WORKER_UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    UNSUPPORTED = "UNSUPPORTED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    INTERNAL = "INTERNAL"


class AppError(Exception):
    """An expected failure the caller can act on."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.details = details or {}


class Unauthenticated(AppError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(AppError):
    code = ErrorCode.FORBIDDEN


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND


class BadInput(AppError):
    code = ErrorCode.BAD_INPUT


class ConflictError(AppError):
    code = ErrorCode.CONFLICT


class BrokerUnavailable(AppError):
    code = ErrorCode.BROKER_UNAVAILABLE


class DatabaseUnavailable(AppError):
    code = ErrorCode.DATABASE_UNAVAILABLE


__all__ = [
    "AppError",
    "BadInput",
    "BrokerUnavailable",
    "ConflictError",
    "DatabaseUnavailable",
    "ErrorCode",
    "Forbidden",
    "NotFound",
    "Unauthenticated",
]
