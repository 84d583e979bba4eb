"""`celery_audit_logs`: every management attempt, allowed, denied or failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base, BigId, Json, UtcDateTime, utcnow


class AuditLog(Base):
    __tablename__ = "celery_audit_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    subject: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(512))
    # pending (written before the action), success, failure, denied
    outcome: Mapped[str] = mapped_column(String(16))
    request: Mapped[Any | None] = mapped_column(Json)
    response: Mapped[Any | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    state_before: Mapped[Any | None] = mapped_column(Json)
    state_after: Mapped[Any | None] = mapped_column(Json)
    observed: Mapped[Any | None] = mapped_column(Json)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    # e.g. ["new_subject", "new_ip"]: a super_admin acting from somewhere not seen for N days
    flags: Mapped[Any | None] = mapped_column(Json)

    __table_args__ = (
        Index("ix_audit_created", "created_at", "id"),
        Index("ix_audit_subject_created", "subject", "created_at"),
        Index("ix_audit_action_created", "action", "created_at"),
        Index("ix_audit_outcome_created", "outcome", "created_at"),
        Index("ix_audit_target", "target"),
    )


__all__ = ["AuditLog"]
