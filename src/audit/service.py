"""Writing the audit trail: a row before the action runs, completed once it has run.

`AuditService.begin()` inserts a `pending` row and returns its id; if that insert fails the caller
must not act (`AuditUnavailable`). `finish()` completes the row exactly once with the outcome
(success, failure, denied), the response, the error and what was observed. Error text is masked
like the request (a secret argument echoed back by a failure stays masked).

A completion the database could not take (it went away while the action ran: the action did
happen) is kept in memory and retried by `run_retries()` until the database is back, so the row
does not stay pending. A row left pending by a process that died is swept to `interrupted` by
src/audit/maintenance.py (a late completion still lands on it). Nothing here updates a finished
row or deletes one, and no API exposes a way to; retention is the `audit.retention_days` key.
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

from src.audit.query import AuditFilter, AuditPage, list_audit_logs
from src.db.models import AuditLog
from src.db.models.base import utcnow
from src.db.session import Database
from src.errors import AppError, ErrorCode
from src.security.masking import redact, redact_error

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 5.0
MAX_JSON_CHARS = 20_000
MAX_UNFINISHED = 10_000  # completions held for retry while the database is away
RETRY_INTERVAL = 2.0


class AuditUnavailable(AppError):
    code = ErrorCode.AUDIT_UNAVAILABLE


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"
    INTERRUPTED = "interrupted"  # left pending by a process that stopped (src/audit/maintenance.py)


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
    flags: list[str] | None = None  # sign-in anomalies (src/auth/failures.py)


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
    """The audit trail: written here (begin, finish) and read here (page)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._unfinished: dict[int, dict[str, Any]] = {}
        self.dropped_completions = 0

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
            flags=draft.flags or None,
        )
        try:
            async with (
                asyncio.timeout(WRITE_TIMEOUT),
                self._db.session("audit", seconds=WRITE_TIMEOUT) as session,
            ):
                session.add(row)
                await session.flush()
                row_id = int(row.id)
        except Exception as exc:  # unreachable, slow or failing database: do not act
            log.warning("audit record for %s not written: %s", draft.action, exc)
            raise AuditUnavailable(
                f"the audit record could not be written, so {draft.action} was not run: "
                f"{type(exc).__name__}"
            ) from exc
        return row_id, time.monotonic()

    async def finish(
        self,
        row_id: int,
        started: float,
        result: AuditResult,
        *,
        request: Any = None,
        secrets: list[str] | None = None,
    ) -> bool:
        """Complete a pending row (only a pending one, or one swept as interrupted meanwhile).
        False when it could not be written now: then it is kept and retried (`run_retries`).
        `request` (the call's raw arguments) and `secrets` are masked in the error text too."""
        error = redact_error(result.error, request, secrets)
        values = {
            "outcome": result.outcome.value,
            "finished_at": utcnow(),
            "duration_ms": round((time.monotonic() - started) * 1000, 3),
            "response": _bounded(result.response),
            "error": error[:4000] if error else None,
            "error_code": result.error_code,
            "state_before": _bounded(result.state_before),
            "state_after": _bounded(result.state_after),
            "observed": _bounded(result.observed),
        }
        try:
            await self._complete(row_id, values)
        except Exception as exc:
            log.error("audit record %s could not be completed, will retry: %s", row_id, exc)
            self._keep(row_id, values)
            return False
        return True

    async def _complete(self, row_id: int, values: dict[str, Any]) -> None:
        open_outcomes = (Outcome.PENDING.value, Outcome.INTERRUPTED.value)
        async with (
            asyncio.timeout(WRITE_TIMEOUT),
            self._db.session("audit", seconds=WRITE_TIMEOUT) as session,
        ):
            await session.execute(
                update(AuditLog)
                .where(AuditLog.id == row_id, AuditLog.outcome.in_(open_outcomes))
                .values(**values)
            )

    def _keep(self, row_id: int, values: dict[str, Any]) -> None:
        if len(self._unfinished) >= MAX_UNFINISHED and row_id not in self._unfinished:
            self.dropped_completions += 1  # the row will be swept as interrupted instead
            return
        self._unfinished[row_id] = values

    @property
    def unfinished(self) -> int:
        """Completions waiting for the database."""
        return len(self._unfinished)

    async def retry_unfinished(self) -> int:
        """Write the kept completions, oldest first, until one fails. Returns how many landed."""
        done = 0
        for row_id in sorted(self._unfinished):
            try:
                await self._complete(row_id, self._unfinished[row_id])
            except Exception as exc:
                log.debug("audit completions still waiting for the database: %s", exc)
                break
            del self._unfinished[row_id]
            done += 1
        if done:
            log.info("audit: %d delayed completion(s) written", done)
        return done

    async def run_retries(self, interval: float = RETRY_INTERVAL) -> None:
        """Retry kept completions for the life of the process (every replica runs it)."""
        while True:
            await asyncio.sleep(interval)
            if self._unfinished:
                await self.retry_unfinished()

    async def page(
        self, audit_filter: AuditFilter, *, first: int = 50, after: str | None = None
    ) -> AuditPage:
        """Records matching the filter, newest first (see src/audit/query.py)."""
        return await list_audit_logs(self._db, audit_filter, first=first, after=after)


__all__ = [
    "AuditDraft",
    "AuditResult",
    "AuditService",
    "AuditUnavailable",
    "Outcome",
    "jsonable",
]
