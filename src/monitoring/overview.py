"""What the `dashboard` and `monitoringStatus` queries show, assembled from the shared state (the
leader's latest sample and active alerts), live health checks and the database, concurrently and
each part bounded, so an overview page renders (with gaps) even when one dependency is down."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from src.access_scope import AccessScope
from src.bus.base import BusHealth
from src.control.cluster_view import ClusterView
from src.monitoring import settings as keys
from src.monitoring.alerts import Alert
from src.monitoring.sample import MetricsSample, QueueSample, SamplerIdentity
from src.monitoring.service import Monitoring
from src.monitoring.switch import monitoring_enabled
from src.monitoring.task_stats import recent_failures
from src.system.health import ComponentHealth

FAILURES_WINDOW = timedelta(hours=1)
STALE_AFTER_INTERVALS = 3
PART_TIMEOUT = 5.0


@dataclass(frozen=True)
class Overview:
    components: list[ComponentHealth]
    latest: MetricsSample | None
    sample_fresh: bool
    queues: list[QueueSample]
    active_alerts: list[Alert]
    recent_failures: int | None
    failures_window_seconds: float


@dataclass(frozen=True)
class Status:
    enabled: bool
    leader: SamplerIdentity | None
    last_sample_at: datetime | None
    sample_age_seconds: float | None
    interval_seconds: float
    snapshot_interval_seconds: float
    retention_days: float
    sampling: bool  # a sample younger than a few intervals exists
    bus: BusHealth


async def _bounded(work: Any, default: Any) -> Any:
    try:
        return await asyncio.wait_for(work, PART_TIMEOUT)
    except Exception:
        return default


def is_fresh(sample: MetricsSample | None, now: datetime | None = None) -> bool:
    if sample is None:
        return False
    now = now or datetime.now(UTC)
    age = (now - sample.taken_at).total_seconds()
    return age <= max(sample.interval_seconds * STALE_AFTER_INTERVALS, 15.0)


async def _live_queues(monitoring: Monitoring, view: ClusterView) -> list[QueueSample]:
    """Queue lengths straight from the broker when no fresh sample exists (monitoring off)."""
    found = await monitoring.queues.list(view)
    return [
        QueueSample(
            name=q.name,
            length=q.depth.messages,
            unacked=q.depth.unacked,
            consumers=len(q.consumers),
        )
        for q in found
    ]


async def overview(
    monitoring: Monitoring, view: ClusterView, scope: AccessScope | None = None
) -> Overview:
    """Everything an overview shows; with a caller's `scope`, recent failures are counted in it
    (the rest is limited by src/auth/scoped_views.py)."""
    since = datetime.now(UTC) - FAILURES_WINDOW
    components, latest, alerts, failures = await asyncio.gather(
        monitoring.health.check(),
        _bounded(monitoring.latest(), None),
        _bounded(monitoring.active_alerts(), []),
        _bounded(recent_failures(monitoring.db, since=since, scope=scope), None),
    )
    fresh = is_fresh(latest)
    queues = (
        latest.queues if fresh and latest else await _bounded(_live_queues(monitoring, view), [])
    )
    return Overview(
        components=components,
        latest=latest,
        sample_fresh=fresh,
        queues=queues,
        active_alerts=alerts,
        recent_failures=failures,
        failures_window_seconds=FAILURES_WINDOW.total_seconds(),
    )


async def status(monitoring: Monitoring) -> Status:
    config = monitoring.config
    latest = await _bounded(monitoring.latest(), None)
    leader = await _bounded(monitoring.leader(), None)
    now = datetime.now(UTC)
    return Status(
        enabled=await monitoring_enabled(config),
        leader=leader,
        last_sample_at=latest.taken_at if latest else None,
        sample_age_seconds=round((now - latest.taken_at).total_seconds(), 3) if latest else None,
        interval_seconds=await keys.get_float(config, keys.METRICS_INTERVAL.name),
        snapshot_interval_seconds=await keys.get_float(config, keys.SNAPSHOT_INTERVAL.name),
        retention_days=await keys.get_float(config, keys.SNAPSHOT_RETENTION_DAYS.name),
        sampling=is_fresh(latest, now),
        bus=monitoring.bus.health(),
    )


__all__ = ["Overview", "Status", "is_fresh", "overview", "status"]
