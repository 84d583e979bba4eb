"""One GraphQL execution per event for identical subscriptions, instead of one per subscriber.

Strawberry (graphql-core) executes the subscription's selection set for every event and every
subscriber. With a thousand dashboards on the same operation that is a thousand identical
executions per message, and the last subscriber waits for all of them. When the event payload is
the same object for every subscriber (see `src.bus.stream.PerMessage`) and its type is registered
with `share_results` (its fields may depend on the caller only through whether it may see task
data, which is part of the key: schema/core/task_data.py), the result is computed
once per (payload, operation text, operation name, variables) and reused; per-subscriber parts
(the guard at start, token expiry, filters, missed notices) stay per subscriber.

An adapter over internals (pinned: strawberry-graphql 0.341, graphql-core 3.3): it subclasses
Strawberry's `StrawberryGraphQLCoreExecutionContext` and overrides graphql-core's
`Executor.build_per_event_executor(payload)`, reading `operation`, `fragment_definitions` and
`variable_values.coerced` and calling `execute_operation(serially)`. What it relies on, and that
identical subscriptions really share one execution, is checked by
tests/contracts/test_strawberry_execution.py.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from graphql import ExecutionResult
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

CACHE_SIZE = 512

_shareable: set[type] = set()
_results: OrderedDict[tuple[int, str], tuple[Any, ExecutionResult]] = OrderedDict()


def share_results(*types: type) -> None:
    """Allow results of subscription payloads of these types to be shared between subscribers."""
    _shareable.update(types)


class _Cached:
    """graphql-core's per-event executor, when the result is already known: no copy, no work."""

    __slots__ = ("_result",)

    def __init__(self, result: ExecutionResult) -> None:
        self._result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self._result


class _Recording:
    """graphql-core's per-event executor, keeping its result for the next subscribers."""

    __slots__ = ("_executor", "_key", "_payload")

    def __init__(self, executor: Any, payload: Any, key: tuple[int, str]) -> None:
        self._executor = executor
        self._payload = payload
        self._key = key

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = self._executor.execute_operation(serially)
        if isinstance(result, ExecutionResult) and not result.errors:
            _results[self._key] = (self._payload, result)  # the payload keeps its id unique
            while len(_results) > CACHE_SIZE:
                _results.popitem(last=False)
        return result


class SharedResultsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _operation_key: str | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        if type(payload) not in _shareable:
            return super().build_per_event_executor(payload)
        if self._operation_key is None:
            self._operation_key = self._describe_operation()
        key = (id(payload), self._operation_key)
        hit = _results.get(key)
        if hit is not None and hit[0] is payload:
            return _Cached(hit[1])
        return _Recording(super().build_per_event_executor(payload), payload, key)

    def _describe_operation(self) -> str:
        loc = self.operation.loc
        source = loc.source.body[loc.start : loc.end] if loc is not None else repr(self.operation)
        name = self.operation.name.value if self.operation.name else ""
        fragments = sorted(
            f.loc.source.body[f.loc.start : f.loc.end] if f.loc else repr(f)
            for f in self.fragment_definitions.values()
        )
        variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=repr)
        # Callers who may see different fields (task data) never share a result.
        may_see = getattr(self.context_value, "may_see_task_data", None)
        view = "task-data" if callable(may_see) and may_see() else "no-task-data"
        return "\x00".join([view, name, source, *fragments, variables])


__all__ = ["SharedResultsExecutionContext", "share_results"]
