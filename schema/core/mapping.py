"""One mapper from domain objects to Strawberry types, instead of copying fields by hand.

`build(Type, source, **overrides)` fills every plain field of the Strawberry type `Type` from the
attribute (or, for a mapping, the key) of the same name on `source` (a dataclass, a pydantic
model, an ORM row, a dict), then applies `overrides` (renamed or computed fields, and
`strawberry.Private` ones). Nested Strawberry types, lists and optional values are converted the
same way, and enums by value; fields with their own resolver are left to it. So a column added to
the task history is one field on the model and one on `Task`, and nothing else.

`lenient=True` is for loose payloads (bus messages): a missing key is null for an optional field,
a string field shows any other value as its repr, and a number field that receives something else
is null.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, cast

from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    get_object_definition,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition

T = TypeVar("T")
Convert = Callable[[Any, bool], Any]
_MISSING = object()


@dataclasses.dataclass(frozen=True, slots=True)
class _Slot:
    name: str
    convert: Convert
    optional: bool
    has_default: bool


def _identity(value: Any, lenient: bool) -> Any:
    return value


def _scalar(kind: type) -> Convert:
    if kind is str:
        return lambda v, lenient: v if not lenient or isinstance(v, str) else repr(v)
    if kind is bool:
        return _identity
    if kind in (int, float):

        def number(value: Any, lenient: bool) -> Any:
            if not lenient:
                return value
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            return float(value) if kind is float else value if isinstance(value, int) else None

        return number
    return _identity


def _converter(kind: Any) -> tuple[Convert, bool]:
    """How to convert a value to `kind`, and whether `kind` is optional."""
    if isinstance(kind, StrawberryOptional):
        inner, _ = _converter(kind.of_type)
        return (lambda v, lenient: None if v is None else inner(v, lenient)), True
    if isinstance(kind, StrawberryList):
        item, _ = _converter(kind.of_type)
        return (lambda v, lenient: [item(x, lenient) for x in v]), False
    if isinstance(kind, type) and has_object_definition(kind):
        target = kind
        return (lambda v, lenient: v if isinstance(v, target) else build(target, v)), False
    if isinstance(kind, StrawberryEnumDefinition):
        kind = kind.wrapped_cls
    if isinstance(kind, type) and issubclass(kind, Enum):
        enum = kind
        return (
            lambda v, lenient: v if isinstance(v, enum) else enum(getattr(v, "value", v))
        ), False
    if isinstance(kind, type) and kind is not datetime:
        return _scalar(kind), False
    return _identity, False


@cache
def _plan(cls: Hashable) -> tuple[_Slot, ...]:
    definition = get_object_definition(cls, strict=True)
    slots = []
    for field in definition.fields:
        if field.base_resolver is not None:
            continue
        convert, optional = _converter(field.type)
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        slots.append(_Slot(field.python_name, convert, optional, has_default))
    return tuple(slots)


def _read(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name, _MISSING)
    return getattr(source, name, _MISSING)


def build(cls: type[T], source: Any, /, *, lenient: bool = False, **overrides: Any) -> T:
    """An instance of the Strawberry type `cls` from `source`; see the module docstring."""
    values: dict[str, Any] = {}
    for slot in _plan(cast(Hashable, cls)):
        if slot.name in overrides:
            continue
        raw = _read(source, slot.name)
        if raw is _MISSING:
            if slot.has_default:
                continue
            if lenient and slot.optional:
                values[slot.name] = None
                continue
            raise TypeError(f"{cls.__name__}.{slot.name}: not on {type(source).__name__}")
        values[slot.name] = slot.convert(raw, lenient)
    return cls(**values, **overrides)


def build_all(cls: type[T], sources: Any, /, **overrides: Any) -> list[T]:
    return [build(cls, source, **overrides) for source in sources]


__all__ = ["build", "build_all"]
