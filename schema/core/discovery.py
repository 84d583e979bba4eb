"""Root types composed from the resolvers package: every module-level field declared with the
decorators of schema/core/fields.py becomes a field of Query, Mutation or Subscription.

Fields are ordered by name (a stable SDL, and a new field lands where a reader expects it). Two
fields of one root type with the same name are an error at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from schema.core.fields import RootKind, root_kind
from schema.core.guard import Guard, guard_of


def _modules(package: ModuleType) -> list[ModuleType]:
    names = sorted(
        info.name
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if not info.ispkg
    )
    return [importlib.import_module(name) for name in names]


def root_fields(package: ModuleType) -> dict[RootKind, dict[str, StrawberryField]]:
    """Every declared root field below `package`, by root type, then by Python name."""
    found: dict[RootKind, dict[str, StrawberryField]] = {kind: {} for kind in RootKind}
    seen: dict[int, str] = {}
    for module in _modules(package):
        for name, value in vars(module).items():
            if not isinstance(value, StrawberryField) or id(value) in seen:
                continue
            kind = root_kind(value)
            if kind is None:
                continue
            if name in found[kind]:
                raise TypeError(
                    f"two {kind} fields named {name!r}: {seen[id(found[kind][name])]} "
                    f"and {module.__name__}"
                )
            found[kind][name] = value
            seen[id(value)] = module.__name__
    return {
        kind: dict(sorted(fields.items(), key=lambda item: to_camel_case(item[0])))
        for kind, fields in found.items()
    }


def root_type(name: str, fields: dict[str, StrawberryField]) -> type:
    """A Strawberry object type holding `fields` (a root type must have at least one)."""
    return strawberry.type(type(name, (), dict(fields)))


@dataclass(frozen=True, slots=True)
class RootField:
    kind: RootKind
    name: str  # the GraphQL name
    guard: Guard | None  # None: a public field


_ROOT_TYPES = {
    RootKind.QUERY: "Query",
    RootKind.MUTATION: "Mutation",
    RootKind.SUBSCRIPTION: "Subscription",
}


def guarded_fields(schema: strawberry.Schema) -> list[RootField]:
    """Every root field of a built schema with its guard: the guards as data (tests, tools)."""
    convert = schema.config.name_converter.get_graphql_name
    found = []
    for kind, type_name in _ROOT_TYPES.items():
        definition = schema.get_type_by_name(type_name)
        for field in getattr(definition, "fields", []):
            found.append(RootField(kind, convert(field), guard_of(field)))
    return found


__all__ = ["RootField", "guarded_fields", "root_fields", "root_type"]
