"""`celery_system_config`: operator-editable settings and alert rules, versioned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base, Json, UtcDateTime, utcnow


class SystemConfigEntry(Base):
    __tablename__ = "celery_system_config"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(Json)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = ["SystemConfigEntry"]
