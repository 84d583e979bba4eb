"""Root field of the audit domain: `auditLogs(filter, first, after)`."""

from __future__ import annotations

from schema.audit.types import (
    AuditLog,
    AuditLogConnection,
    AuditLogEdge,
    AuditLogFilter,
    AuditPageInfo,
)
from schema.core.context import Info
from schema.core.fields import query
from src.audit.query import AuditFilter
from src.auth.roles import Role


@query(Role.ADMIN)
async def audit_logs(
    info: Info, filter: AuditLogFilter | None = None, first: int = 50, after: str | None = None
) -> AuditLogConnection:
    """Management attempts, newest first, filtered by actor, action, outcome, target and time.
    A scoped caller sees only its own attempts (denied ones included)."""
    context = info.context
    wanted: AuditFilter | None = (filter or AuditLogFilter()).to_domain()
    if context.task_scope is not None and wanted is not None:
        wanted = wanted.only_actor(context.caller().subject)
    if wanted is None:
        return AuditLogConnection(
            edges=[], page_info=AuditPageInfo(has_next_page=False, end_cursor=None)
        )
    page = await context.audit.page(wanted, first=first, after=after)
    edges = [
        AuditLogEdge(cursor=c, node=AuditLog.from_row(r))
        for r, c in zip(page.rows, page.cursors, strict=True)
    ]
    return AuditLogConnection(
        edges=edges,
        page_info=AuditPageInfo(
            has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None
        ),
    )


__all__ = ["audit_logs"]
