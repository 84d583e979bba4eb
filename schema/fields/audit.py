"""Audit queries."""

from __future__ import annotations

import strawberry

from resolvers import audit as resolve
from schema.permissions import IsAdmin
from schema.types.audit import AuditLogConnection


@strawberry.type
class AuditQueries:
    audit_logs: AuditLogConnection = strawberry.field(
        resolver=resolve.audit_logs,
        permission_classes=[IsAdmin],
        description=resolve.audit_logs.__doc__,
    )


__all__ = ["AuditQueries"]
