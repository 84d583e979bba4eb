"""`celery_monitoring_alerts`: alert history, one row per alert from raised to resolved.

Active alerts also live in Redis (src/monitoring/alerts.py) so every replica serves them cheaply;
this table is the durable record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base, BigId, Json, UtcDateTime


class AlertRecord(Base):
    __tablename__ = "celery_monitoring_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(512))  # rule id + subject
    rule_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    details: Mapped[Any | None] = mapped_column(Json)

    __table_args__ = (
        Index("ix_alerts_raised", "raised_at", "id"),
        Index("ix_alerts_key_resolved", "alert_key", "resolved_at"),
    )


__all__ = ["AlertRecord"]
