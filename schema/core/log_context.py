"""Binds the caller and the operation to the log context (src/logs) and writes one line per
operation (mutations at INFO, the rest at DEBUG). ErrorCodes puts the request id into errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from src.logs import bind

log = logging.getLogger("celery_admin.graphql.operations")


class LogContext(SchemaExtension):
    """Listed before ErrorCodes: its closing part runs after theirs and logs the shaped codes."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        principal = context.peek_principal() if context is not None else None
        bind(
            subject=principal.subject if principal else None,
            operation=self.execution_context.operation_name or "anonymous",
        )
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = list(getattr(result, "errors", None) or [])
        try:
            kind = self.execution_context.operation_type
        except Exception:  # a document that did not parse has no operation
            kind = None
        level = logging.INFO if kind is OperationType.MUTATION else logging.DEBUG
        if log.isEnabledFor(level):
            codes = sorted({str((e.extensions or {}).get("code")) for e in errors})
            log.log(
                level,
                "%s %s: %s",
                kind.value if kind else "operation",
                self.execution_context.operation_name or "anonymous",
                f"errors {', '.join(codes)}" if codes else "ok",
            )


__all__ = ["LogContext"]
