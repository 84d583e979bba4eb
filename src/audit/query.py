"""Reading the audit trail: filters and keyset pagination, newest first.

The cursor is the last row's id: ids only grow, so `id < cursor` is a stable page boundary however
many rows are written meanwhile (offsets would shift).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from src.db.models import AuditLog
from src.db.session import Database
from src.errors import BadInput

MAX_PAGE = 200
PAGE_SECONDS = 5.0
CURSOR_PREFIX = "audit:"


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actors: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    target: str | None = None  # exact target
    after: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive

    def only_actor(self, subject: str) -> AuditFilter | None:
        """The same filter limited to one actor's rows (a scoped caller's: its own attempts
        only, since other rows' requests may name anything); None when it asked for others."""
        if self.actors and subject not in self.actors:
            return None
        return replace(self, actors=(subject,))

    def clauses(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.actors:
            where.append(AuditLog.subject.in_(self.actors))
        if self.actions:
            where.append(AuditLog.action.in_(self.actions))
        if self.outcomes:
            where.append(AuditLog.outcome.in_(self.outcomes))
        if self.target:
            where.append(AuditLog.target == self.target)
        if self.after is not None:
            where.append(AuditLog.created_at >= self.after)
        if self.before is not None:
            where.append(AuditLog.created_at < self.before)
        return where


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditLog]
    has_next: bool
    cursors: list[str] = field(default_factory=list)


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput("after: not a cursor of auditLogs", field="after") from None


async def list_audit_logs(
    db: Database,
    audit_filter: AuditFilter,
    *,
    first: int = 50,
    after: str | None = None,
) -> AuditPage:
    if first < 1 or first > MAX_PAGE:
        raise BadInput(f"first: between 1 and {MAX_PAGE}", field="first")
    where = audit_filter.clauses()
    if after:
        where.append(AuditLog.id < decode_cursor(after))
    statement = select(AuditLog).where(*where).order_by(AuditLog.id.desc()).limit(first + 1)
    async with db.session("audit logs", seconds=PAGE_SECONDS) as session:
        rows = list((await session.scalars(statement)).all())
    page = rows[:first]
    return AuditPage(page, len(rows) > first, [encode_cursor(r.id) for r in page])


__all__ = ["AuditFilter", "AuditPage", "decode_cursor", "encode_cursor", "list_audit_logs"]
