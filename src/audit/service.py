"""Writing the audit trail: a row before the action runs, completed once it has run.

`AuditService.begin()` inserts a `pending` row and returns its id; if that insert fails the caller
must not act (`AuditUnavailable`). `finish()` completes the row exactly once with the outcome
(success, failure, denied), the response, the error and what was observed. Nothing here updates a
finished row or deletes one, and no API exposes a way to.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.db.models import AuditLog
from src.db.models.base import utcnow
from src.errors import AppError, ErrorCode
from src.redaction import redact

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 5.0
MAX_JSON_CHARS = 20_000


class AuditUnavailable(AppError):
    code = ErrorCode.AUDIT_UNAVAILABLE


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(slots=True)
class AuditDraft:
    """Who asks for what, known before anything runs."""

    action: str
    subject: str | None = None
    role: str | None = None
    target: str | None = None
    request: Any = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(slots=True)
class AuditResult:
    """How it ended."""

    outcome: Outcome
    response: Any = None
    error: str | None = None
    error_code: str | None = None
    state_before: Any = None
    state_after: Any = None
    observed: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def jsonable(value: Any, *, depth: int = 0) -> Any:
    """A JSON-safe copy (datetimes as ISO strings, unknown objects as their repr)."""
    if depth > 20:
        return "..."
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth=depth + 1) for v in value]
    return repr(value)[:1000]


def _bounded(value: Any) -> Any:
    """Redacted, JSON-safe, and not absurdly large."""
    clean = jsonable(redact(jsonable(value)))
    text = repr(clean)
    if len(text) > MAX_JSON_CHARS:
        return {"truncated": True, "preview": text[:MAX_JSON_CHARS]}
    return clean


class AuditService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def begin(self, draft: AuditDraft) -> tuple[int, float]:
        """Insert the pending row; return (row id, monotonic start). Raises AuditUnavailable."""
        row = AuditLog(
            created_at=utcnow(),
            subject=draft.subject,
            role=draft.role,
            action=draft.action,
            target=(draft.target or None) and str(draft.target)[:512],
            outcome=Outcome.PENDING.value,
            request=_bounded(draft.request),
            ip=draft.ip,
            user_agent=draft.user_agent,
        )
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                async with self._sessions() as session, session.begin():
                    session.add(row)
                    await session.flush()
                    row_id = int(row.id)
        except Exception as exc:  # any driver, network or timeout error: do not act
            log.warning("audit record for %s not written: %s", draft.action, exc)
            raise AuditUnavailable(
                f"the audit record could not be written, so {draft.action} was not run: "
                f"{type(exc).__name__}"
            ) from exc
        return row_id, time.monotonic()

    async def finish(self, row_id: int, started: float, result: AuditResult) -> bool:
        """Complete a pending row (only a pending one). False when it could not be written."""
        values = {
            "outcome": result.outcome.value,
            "finished_at": utcnow(),
            "duration_ms": round((time.monotonic() - started) * 1000, 3),
            "response": _bounded(result.response),
            "error": result.error[:4000] if result.error else None,
            "error_code": result.error_code,
            "state_before": _bounded(result.state_before),
            "state_after": _bounded(result.state_after),
            "observed": _bounded(result.observed),
        }
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        update(AuditLog)
                        .where(AuditLog.id == row_id, AuditLog.outcome == Outcome.PENDING.value)
                        .values(**values)
                    )
        except Exception as exc:
            log.error("audit record %s could not be completed (%s): %s", row_id, values, exc)
            return False
        return True


__all__ = [
    "AuditDraft",
    "AuditResult",
    "AuditService",
    "AuditUnavailable",
    "Outcome",
    "jsonable",
]
