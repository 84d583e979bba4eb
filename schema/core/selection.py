"""Which fields a query selected below the current one, fragments included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schema.core.context import Info


def _names(selections: Iterable[Any]) -> set[str]:
    names: set[str] = set()
    for selection in selections:
        if hasattr(selection, "name") and not hasattr(selection, "type_condition"):
            names.add(selection.name)
        else:  # a fragment spread or an inline fragment: look inside
            names |= _names(getattr(selection, "selections", ()))
    return names


def selected_subfields(info: Info) -> set[str]:
    """GraphQL names of the fields selected on this field's result."""
    names: set[str] = set()
    for field in info.selected_fields:
        names |= _names(field.selections)
    return names


__all__ = ["selected_subfields"]
