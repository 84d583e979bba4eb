"""`celery-admin audit export`: the audit trail between two instants, streamed for archiving.

Keyset pages over the `(created_at, id)` index: each page is one short query that starts after the
last row written, so memory stays at one page whatever the number of rows, no transaction is held
open for the whole export, and rows written meanwhile before `until` are not skipped or repeated.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select, tuple_

from src.db.models import AuditLog
from src.db.session import Database

PAGE_ROWS = 1000
COLUMNS = [c.name for c in AuditLog.__table__.columns]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def audit_rows(
    db: Database, since: datetime, until: datetime, *, page: int = PAGE_ROWS
) -> AsyncIterator[dict[str, Any]]:
    """Rows with since <= created_at < until, oldest first, as plain dicts."""
    after: tuple[datetime, int] | None = None
    while True:
        query = (
            select(AuditLog)
            .where(AuditLog.created_at >= since, AuditLog.created_at < until)
            .order_by(AuditLog.created_at, AuditLog.id)
            .limit(page)
        )
        if after is not None:
            query = query.where(tuple_(AuditLog.created_at, AuditLog.id) > tuple_(*after))
        async with db.session("audit export") as session:
            rows = (await session.scalars(query)).all()
            batch = [{c: _plain(getattr(r, c)) for c in COLUMNS} for r in rows]
        for row in batch:
            yield row
        if len(rows) < page:
            return
        after = (rows[-1].created_at, rows[-1].id)


async def export(
    db: Database, since: datetime, until: datetime, fmt: str, out: IO[str], *, page: int = PAGE_ROWS
) -> int:
    """Write the rows as JSON lines or CSV (JSON columns as JSON text); the count written."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    async for row in audit_rows(db, since, until, page=page):
        if writer is not None:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
            )
        else:
            out.write(json.dumps(row, default=str) + "\n")
        count += 1
    out.flush()
    return count


__all__ = ["COLUMNS", "audit_rows", "export"]
