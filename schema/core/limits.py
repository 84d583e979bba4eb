"""Document caps before the validation rules (src/security/document.py), on every channel.

Replaces Strawberry's `ValidationCache` (which validates unconditionally): a document past a cap
is answered QUERY_TOO_COMPLEX / QUERY_TOO_COSTLY without any validation rule running; the others
are validated through the cache as before. Anonymous HTTP requests met smaller caps already, in
the request gate (src/security/gate.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import ValidationCache

from src.auth.roles import Role
from src.errors import AppError, Forbidden
from src.security.document import check_document, root_field_names
from src.security.gate import INTROSPECTION


def _introspects(document: DocumentNode) -> bool:
    return any(
        (root_field_names(document, d) or set()) & INTROSPECTION
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def _check_introspection(context: object, document: DocumentNode) -> None:
    """Production: introspection is for admins only."""
    if not getattr(context, "production", False) or not _introspects(document):
        return
    principal = context.principal()  # type: ignore[attr-defined]
    if principal is None or not principal.has(Role.ADMIN):
        raise Forbidden("introspection needs the admin role in production")


class LimitedValidationCache(ValidationCache):
    def on_validate(self) -> Iterator[None]:
        execution_context = self.execution_context
        document = execution_context.graphql_document
        caps = getattr(execution_context.context, "document_caps", None)
        if document is not None and caps is not None:
            try:
                _check_introspection(execution_context.context, document)
                check_document(
                    document, execution_context.schema._schema, caps, execution_context.variables
                )
            except AppError as exc:
                execution_context.pre_execution_errors = [
                    GraphQLError(exc.message, original_error=exc)
                ]
                yield
                return
        yield from super().on_validate()


__all__ = ["LimitedValidationCache"]
