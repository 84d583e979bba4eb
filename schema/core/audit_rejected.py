"""Mutation attempts refused before any field ran are audited too.

The guard (schema/core/guard.py) audits every attempt that reaches a mutation field. A document
whose variables do not coerce (`$n: Int!` given "abc") or that fails validation is refused by
graphql-core before that: this extension writes one `failure` row (BAD_INPUT) for each root
field of such a mutation, with the variables redacted like any request and the error text
masked the same way. The rows are written just after the answer goes out (the schema's hooks
must also run synchronously), by a task kept referenced until it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, OperationType
from strawberry.extensions import SchemaExtension

from src.audit.service import AuditDraft, AuditResult, Outcome
from src.errors import ErrorCode, Unauthenticated

MAX_FIELDS = 10  # a document naming more root fields is audited by its first ten


def _root_fields(document: Any, operation_name: str | None) -> list[str]:
    operations = [
        d
        for d in getattr(document, "definitions", ())
        if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
    ]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return []
    selections = operations[0].selection_set.selections
    return [s.name.value for s in selections if isinstance(s, FieldNode)][:MAX_FIELDS]


_writing: set[asyncio.Task[None]] = set()  # keeps the pending writes referenced


class AuditRejected(SchemaExtension):
    """Sync hook (the schema also runs synchronously, e.g. introspection); the rows are written
    by a task on the running loop, right after the answer."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        before = getattr(context, "audited_attempts", 0)
        yield
        result = self.execution_context.result
        if result is None or not result.errors or getattr(context, "audit", None) is None:
            return
        if getattr(context, "audited_attempts", 0) != before:
            return  # the guard audited this attempt
        names = _root_fields(
            self.execution_context.graphql_document, self.execution_context.operation_name
        )
        if not names:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # synchronous execution: nothing is served that way
        task = loop.create_task(self._audit(context, names, [e.message for e in result.errors]))
        _writing.add(task)
        task.add_done_callback(_writing.discard)

    async def _audit(self, context: Any, names: list[str], messages: list[str]) -> None:
        try:
            principal = context.principal()
        except Unauthenticated:
            principal = None
        variables = self.execution_context.variables or {}
        error = "; ".join(messages)[:4000]
        for name in names:
            draft = AuditDraft(
                action=name,
                subject=principal.subject if principal else None,
                role=principal.role.claim if principal else None,
                request={"variables": variables, "rejected": "before execution"},
                ip=context.client_ip,
                user_agent=context.user_agent,
            )
            try:
                row_id, started = await context.audit.begin(draft)
            except Exception:
                return  # no database: the attempt did nothing anyway
            await context.audit.finish(
                row_id,
                started,
                AuditResult(Outcome.FAILURE, error=error, error_code=ErrorCode.BAD_INPUT.value),
                request=variables,
            )


__all__ = ["AuditRejected"]
