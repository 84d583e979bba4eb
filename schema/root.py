"""The Schema: root types composed from the per-domain field classes, and its extensions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.errors import ErrorCodes, is_unexpected
from schema.fields.audit import AuditQueries
from schema.fields.control import ControlMutations, ControlQueries
from schema.fields.monitoring import MonitoringQueries, MonitoringSubscriptions
from schema.fields.queues import QueueQueries
from schema.fields.subscriptions import EventSubscriptions
from schema.fields.system import SystemQueries
from schema.fields.tasks import TaskQueries
from schema.fields.workers import WorkerQueries
from schema.parsing import QueryParserCache
from schema.shared_results import SharedResultsExecutionContext


@strawberry.type
class Query(
    SystemQueries,
    WorkerQueries,
    QueueQueries,
    TaskQueries,
    AuditQueries,
    ControlQueries,
    MonitoringQueries,
):
    pass


@strawberry.type
class Mutation(ControlMutations):
    pass


@strawberry.type
class Subscription(EventSubscriptions, MonitoringSubscriptions):
    pass


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
    # values lose their mapping); definition order is deterministic anyway.
    config=StrawberryConfig(),
    extensions=[
        ErrorCodes,
        # Dashboards send the same few documents again and again: parse (queries only, see
        # schema/parsing.py) and validate them once.
        lambda: QueryParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: AddValidationRules(_LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=5000),
    ],
)

__all__ = ["Mutation", "Query", "Subscription", "schema"]
