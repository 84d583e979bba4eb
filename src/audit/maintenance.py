"""Keeping the audit trail tidy, as a leader job: pending rows of dead processes, and retention.

- A row still `pending` well after any mutation can have ended (`PENDING_GRACE`) belongs to a
  process that stopped mid-call (crash, kill, lost database): it is marked `interrupted`, at
  start-up and then every round. A completion that arrives later still lands on it.
- Retention is the system-config key `audit.retention_days` (default 0: keep forever). Rows
  older than that are deleted in bounded batches by the leader, never one by one through an API.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from src.audit.service import Outcome
from src.db.models import AuditLog
from src.db.models.base import utcnow
from src.db.session import Database
from src.system.config import ConfigStore, declare_number

log = logging.getLogger(__name__)

AUDIT_RETENTION_DAYS = declare_number(
    "audit.retention_days",
    0,
    "Days audit records are kept; 0 keeps them forever. Older ones are deleted in batches.",
    ge=0,
    le=36500,
)

PENDING_GRACE = timedelta(minutes=10)  # far longer than any mutation may run
ROUND_INTERVAL = 300.0
BATCH_SIZE = 1000
BATCH_PAUSE = 0.05
MAX_BATCHES_PER_ROUND = 1000
SWEEP_NOTE = "the process handling this call stopped before recording how it ended"


class AuditMaintenance:
    def __init__(
        self,
        db: Database,
        config: ConfigStore,
        *,
        interval: float = ROUND_INTERVAL,
        batch_size: int = BATCH_SIZE,
        pending_grace: timedelta = PENDING_GRACE,
    ) -> None:
        self.db = db
        self.config = config
        self.interval = interval
        self.batch_size = batch_size
        self.pending_grace = pending_grace

    async def sweep_once(self, *, now: datetime | None = None) -> int:
        """Mark rows pending for longer than the grace as interrupted; how many."""
        cutoff = (now or utcnow()) - self.pending_grace
        async with self.db.session("audit-maintenance") as session:
            result: Any = await session.execute(
                update(AuditLog)
                .where(AuditLog.outcome == Outcome.PENDING.value, AuditLog.created_at < cutoff)
                .values(
                    outcome=Outcome.INTERRUPTED.value,
                    error=SWEEP_NOTE,
                    error_code="INTERRUPTED",
                )
                .execution_options(synchronize_session=False)
            )
        swept = int(result.rowcount or 0)
        if swept:
            log.warning("audit: %d record(s) left pending were marked interrupted", swept)
        return swept

    async def prune_once(self, *, now: datetime | None = None) -> int:
        """Delete rows older than `audit.retention_days` (0: none), in batches; how many."""
        days = int(await self.config.get(AUDIT_RETENTION_DAYS.name))
        if days <= 0:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=days)
        total = 0
        for _ in range(MAX_BATCHES_PER_ROUND):
            victims = (
                select(AuditLog.id)
                .where(AuditLog.created_at < cutoff)
                .order_by(AuditLog.created_at.asc(), AuditLog.id.asc())
                .limit(self.batch_size)
            )
            async with self.db.session("audit-maintenance") as session:
                result: Any = await session.execute(
                    delete(AuditLog)
                    .where(AuditLog.id.in_(victims.scalar_subquery()))
                    .execution_options(synchronize_session=False)
                )
            count = int(result.rowcount or 0)
            total += count
            if count < self.batch_size:
                break
            await asyncio.sleep(BATCH_PAUSE)
        if total:
            log.info("audit retention deleted %d record(s) older than %d days", total, days)
        return total

    async def run(self) -> None:
        """Sweep and prune now (start-up), then every round; failures are logged, not fatal."""
        while True:
            for step in (self.sweep_once, self.prune_once):
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("audit maintenance (%s) failed: %s", step.__name__, exc)
            await asyncio.sleep(self.interval)


__all__ = ["AUDIT_RETENTION_DAYS", "PENDING_GRACE", "AuditMaintenance"]
