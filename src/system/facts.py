"""What this celery-admin process can say about itself and its cluster: uptime, the broker URL
(masked), Celery's configuration (secrets masked), and the leading collector's report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from redis import asyncio as aioredis

from src.collector.collector import read_status
from src.collector.gaps import read_gaps
from src.security.masking import mask_url
from src.system.configuration import celery_conf

RECENT_GAPS = 5


@dataclass(frozen=True, slots=True)
class CollectorReport:
    status: dict[str, Any]
    gaps: list[dict[str, Any]] = field(default_factory=list)


class SystemFacts:
    def __init__(
        self, app: Celery, state_redis: aioredis.Redis | None, started_at: float | None = None
    ) -> None:
        self._app = app
        self._state_redis = state_redis
        self.started_at = time.time() if started_at is None else started_at

    def uptime_seconds(self) -> float:
        return round(time.time() - self.started_at, 3)

    def broker_url(self) -> str:
        """The broker URL with its password masked."""
        return mask_url(str(self._app.conf.broker_url))

    def celery_conf(self) -> dict[str, Any]:
        return celery_conf(self._app)

    async def collector(self) -> CollectorReport | None:
        """The leading collector's latest report and recent broker gaps; None when none ran."""
        redis = self._state_redis
        report = await read_status(redis)
        if report is None or redis is None:
            return None
        try:
            gaps = await read_gaps(redis, limit=RECENT_GAPS)
        except Exception:  # Redis went away between the two reads: the report still stands
            gaps = []
        return CollectorReport(report, gaps)


__all__ = ["CollectorReport", "SystemFacts"]
