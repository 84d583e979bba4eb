"""`celery_monitoring_snapshots`: periodic metric samples behind history charts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base, BigId, Json, UtcDateTime


class MonitoringSnapshot(Base):
    __tablename__ = "celery_monitoring_snapshots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)
    workers_online: Mapped[int] = mapped_column(Integer, default=0)
    tasks_active: Mapped[int] = mapped_column(Integer, default=0)
    queued_total: Mapped[int] = mapped_column(Integer, default=0)
    succeeded_per_min: Mapped[float] = mapped_column(Float, default=0.0)
    failed_per_min: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_percent: Mapped[float | None] = mapped_column(Float)
    memory_percent: Mapped[float | None] = mapped_column(Float)
    disk_percent: Mapped[float | None] = mapped_column(Float)
    max_wait_seconds: Mapped[float | None] = mapped_column(Float)  # oldest waiting message
    runtime_p50: Mapped[float | None] = mapped_column(Float)
    runtime_p95: Mapped[float | None] = mapped_column(Float)
    data: Mapped[Any] = mapped_column(Json)  # bounded extras: busiest queues/workers, states, host

    __table_args__ = (Index("ix_snapshots_taken", "taken_at"),)


__all__ = ["MonitoringSnapshot"]
