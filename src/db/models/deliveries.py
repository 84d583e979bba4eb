"""`celery_alert_deliveries`: one row per notification and sink, from enqueued to delivered.

The row is the outbox and the record at once: the delivery leader claims a due row (status
`sending`, `claimed_by`, `claim_until`), sends, and completes it (`delivered`, `retrying` with
`next_attempt_at`, or `failed`), each step a short transaction fenced by the claim. The unique
`(notification_id, sink)` makes enqueueing idempotent, so a notification handed over twice (a
leader change between insert and acknowledgement) is still one row and one delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base, BigId, Json, UtcDateTime, utcnow


class AlertDelivery(Base):
    __tablename__ = "celery_alert_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # sha256 of (alert key, raised at, event): the same notification whoever enqueues it
    notification_id: Mapped[str] = mapped_column(String(64))
    sink: Mapped[str] = mapped_column(String(64))
    sink_kind: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))  # firing, resolved, test
    alert_key: Mapped[str] = mapped_column(String(512))
    rule_id: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(255))
    # the notification as enqueued (the alert as it was then): every attempt builds the same body
    alert: Mapped[Any] = mapped_column(Json)
    # pending, sending, retrying, delivered, failed, cancelled
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claim_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("notification_id", "sink"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_created", "created_at", "id"),
        Index("ix_deliveries_sink_created", "sink", "created_at"),
        Index("ix_deliveries_alert", "alert_key", "created_at"),
    )


__all__ = ["AlertDelivery"]
