"""How a root field is declared: one decorator on its resolver, stating who may call it.

    @query(Role.VIEWER)
    async def queues(info: Info) -> list[Queue]:
        \"\"\"Every queue ...\"\"\"

    @mutation(Role.ADMIN, on=On(queues="name"))
    async def purge_queue(info: Info, name: str, confirm: bool = False) -> PurgeQueuePayload:
        ...

The decorator turns the resolver into a Strawberry field carrying its `Guard` (the role, stated
only here; mutations are always audited) and a description ending with what the guard requires
("Requires: admin. Audited."). The module-level name is the field's name; schema/root.py collects
every such field from the resolvers package, so a new field needs no list edited anywhere.
`public_query` is the one way to declare a field without a guard (the schema test keeps the list
of those).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import strawberry
from strawberry.types.field import StrawberryField

from schema.core.guard import NOTHING, Guard, On
from src.auth.policy import Requirement
from src.auth.roles import Role

ROOT = "celery_admin.root"  # the field's metadata key: which root type it belongs to


class RootKind(StrEnum):
    QUERY = "query"
    MUTATION = "mutation"
    SUBSCRIPTION = "subscription"


Resolver = Callable[..., Any]


def _description(resolver: Resolver, guard: Guard | None) -> str:
    text = inspect.cleandoc(resolver.__doc__ or "")
    if guard is None:
        return text
    return f"{text}\n\n{guard.describe()}" if text else guard.describe()


def _declare(kind: RootKind, guard: Guard | None) -> Callable[[Resolver], StrawberryField]:
    def decorate(resolver: Resolver) -> StrawberryField:
        options: dict[str, Any] = {
            "resolver": resolver,
            "description": _description(resolver, guard),
            "extensions": [guard] if guard is not None else [],
            "metadata": {ROOT: kind},
        }
        if kind is RootKind.MUTATION:
            return strawberry.mutation(**options)
        if kind is RootKind.SUBSCRIPTION:
            return strawberry.subscription(**options)
        return strawberry.field(**options)

    return decorate


def query(
    role: Role, *, on: On = NOTHING, cluster_wide: bool = False
) -> Callable[[Resolver], StrawberryField]:
    """A guarded query; `cluster_wide`: it answers figures over the whole cluster that cannot be
    limited to a scope, so scoped callers are refused (FORBIDDEN)."""
    return _declare(RootKind.QUERY, Guard(Requirement(role), on=on, cluster_wide=cluster_wide))


def subscription(
    role: Role, *, on: On = NOTHING, cluster_wide: bool = False
) -> Callable[[Resolver], StrawberryField]:
    """A guarded subscription (checked at its start); `cluster_wide` as for `query`."""
    return _declare(
        RootKind.SUBSCRIPTION, Guard(Requirement(role), on=on, cluster_wide=cluster_wide)
    )


def mutation(
    role: Role,
    *,
    on: On = NOTHING,
    target: str | None = None,
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[[Resolver], StrawberryField]:
    """An audited mutation; `target` is a constant audit target (else `on`'s arguments);
    `redact` masks what the generic redaction cannot know is secret in its arguments."""
    return _declare(
        RootKind.MUTATION,
        Guard(Requirement(role), audited=True, on=on, target=target, redact=redact),
    )


def public_query(resolver: Resolver) -> StrawberryField:
    """A query anyone may call, without a token."""
    return _declare(RootKind.QUERY, None)(resolver)


def root_kind(field: StrawberryField) -> RootKind | None:
    kind = field.metadata.get(ROOT) if field.metadata else None
    return RootKind(kind) if kind else None


__all__ = ["On", "RootKind", "mutation", "public_query", "query", "root_kind", "subscription"]
