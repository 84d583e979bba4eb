"""Contract: what schema/adapters/shared_results.py relies on in Strawberry's (and graphql-core's)
execution internals. Fails loudly when a release changes them; then revisit the adapter and the
pins in pyproject.toml."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import AsyncGenerator
from importlib.metadata import version

import strawberry
from graphql.execution.executor import Executor
from graphql.execution.values import VariableValues
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.adapters.shared_results import SharedResultsExecutionContext, share_results


def test_the_tested_releases_are_installed() -> None:
    assert version("strawberry-graphql").startswith("0.341."), version("strawberry-graphql")
    assert version("graphql-core").startswith("3.3."), version("graphql-core")


def test_the_internal_execution_context_has_the_shape_we_subclass() -> None:
    assert issubclass(SharedResultsExecutionContext, StrawberryGraphQLCoreExecutionContext)
    assert issubclass(StrawberryGraphQLCoreExecutionContext, Executor)
    method = Executor.build_per_event_executor
    assert list(inspect.signature(method).parameters) == ["self", "payload"]
    assert list(inspect.signature(Executor.execute_operation).parameters) == ["self", "serially"]
    source = inspect.getsource(Executor.__init__)
    for used in ("self.operation", "self.fragment_definitions", "self.variable_values"):
        assert used in source, used
    assert "coerced" in VariableValues._fields


_calls = itertools.count()


@strawberry.type
class Tick:
    n: int

    @strawberry.field
    def seen(self) -> int:
        return next(_calls)


share_results(Tick)


@strawberry.type
class _Query:
    ok: bool = True


_SHARED = Tick(n=1)


@strawberry.type
class _Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[Tick, None]:
        yield _SHARED  # the same payload object for every subscriber, as PerMessage makes it


async def test_identical_subscriptions_share_one_execution_per_payload() -> None:
    schema = strawberry.Schema(
        query=_Query,
        subscription=_Subscription,
        execution_context_class=SharedResultsExecutionContext,
    )
    document = "subscription { ticks { n seen } }"
    results = []
    for _ in range(3):
        stream = await schema.subscribe(document)
        results.append(await anext(stream))  # type: ignore[arg-type]
    assert [r.errors for r in results] == [None, None, None]
    assert len({r.data["ticks"]["seen"] for r in results}) == 1  # resolved once, shared
    assert results[0].data == {"ticks": {"n": 1, "seen": results[0].data["ticks"]["seen"]}}
