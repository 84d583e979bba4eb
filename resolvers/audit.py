"""Root fields of the audit domain."""

from __future__ import annotations

from schema.context import Info
from schema.types.audit import (
    AuditLog,
    AuditLogConnection,
    AuditLogEdge,
    AuditLogFilter,
    AuditPageInfo,
)
from src.audit.query import list_audit_logs


async def audit_logs(
    info: Info, filter: AuditLogFilter | None = None, first: int = 50, after: str | None = None
) -> AuditLogConnection:
    """Management attempts, newest first, filtered by actor, action, outcome, target and time."""
    page = await list_audit_logs(
        info.context.services.sessions,
        filter.to_domain() if filter else AuditLogFilter().to_domain(),
        first=first,
        after=after,
    )
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
