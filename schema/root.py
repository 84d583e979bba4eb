"""The Schema: root types composed from the fields declared in the resolvers package (see
schema/core/discovery.py), and the schema's extensions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

import resolvers
from schema.adapters.shared_results import SharedResultsExecutionContext
from schema.core.audit_rejected import AuditRejected
from schema.core.discovery import root_fields, root_type
from schema.core.errors import ErrorCodes, is_unexpected
from schema.core.fields import RootKind
from schema.core.limits import LimitedValidationCache
from schema.core.log_context import LogContext
from schema.core.parsing import QueryParserCache

_fields = root_fields(resolvers)
Query = root_type("Query", _fields[RootKind.QUERY])
Mutation = root_type("Mutation", _fields[RootKind.MUTATION])
Subscription = root_type("Subscription", _fields[RootKind.SUBSCRIPTION])


class Schema(strawberry.Schema):
    """Logs only unexpected errors: a denied or invalid request is not an incident."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if is_unexpected(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


# Built once: a limiter made per operation brings new rule classes each time, and then the
# validation cache (keyed by the rules) never hits.
_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=12).validation_rules,
    *MaxAliasesLimiter(max_alias_count=50).validation_rules,
]

schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    execution_context_class=SharedResultsExecutionContext,
    # sort_schema=True would be a stable order, but it breaks enum defaults on 0.341 (their
    # values lose their mapping); types print sorted anyway, root fields come sorted by name.
    config=StrawberryConfig(),
    extensions=[
        LogContext,  # first: its closing part logs the codes ErrorCodes gave the errors
        ErrorCodes,
        AuditRejected,
        # Dashboards send the same few documents again and again: parse (queries only, see
        # schema/core/parsing.py) and validate them once, after the caps (schema/core/limits.py).
        lambda: QueryParserCache(maxsize=256),
        lambda: LimitedValidationCache(maxsize=256),
        lambda: AddValidationRules(_LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=5000),
    ],
)

__all__ = ["Mutation", "Query", "Subscription", "schema"]
