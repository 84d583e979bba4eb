"""The schema as the tests see it: the root fields with their guards, read from the built schema
(at collection time, so the generated tests follow the schema without a list kept by hand)."""

from __future__ import annotations

from schema.core.discovery import RootField, guarded_fields
from schema.root import schema
from src.auth.roles import Role
from tests.support.documents import SchemaIndex

INDEX = SchemaIndex.from_introspection(schema.introspect())
ROOT_FIELDS: list[RootField] = guarded_fields(schema)


def roles_below(field: RootField) -> list[Role | None]:
    """Anonymous, then every role under the field's minimum."""
    assert field.guard is not None
    return [None, *(r for r in Role if r < field.guard.requirement.role)]


__all__ = ["INDEX", "ROOT_FIELDS", "roles_below"]
