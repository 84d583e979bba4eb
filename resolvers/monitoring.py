"""Root fields of the monitoring domain: thin mappings of src/monitoring to schema types."""

from __future__ import annotations

import asyncio
from datetime import datetime

from schema.context import Info
from schema.types.monitoring import (
    Alert,
    Dashboard,
    HostMetrics,
    MetricsPoint,
    MetricsSample,
    MonitoringStatus,
    ProcessMetrics,
    SystemMetrics,
)
from src.errors import AppError, BadInput
from src.monitoring.host import host_sample, process_sample
from src.monitoring.overview import overview, status
from src.monitoring.runtime import monitoring_for
from src.monitoring.sample import WorkerSample
from src.monitoring.sampler import workers_from_view
from src.monitoring.snapshots import metrics_history as history

MAX_ALERTS = 500


async def realtime_metrics(info: Info) -> MetricsSample | None:
    """The latest sample taken by the monitoring leader (the same on every replica); null before
    the first sample or long after monitoring was switched off."""
    latest = await monitoring_for(info.context.services).latest()
    return MetricsSample.from_model(latest) if latest else None


async def system_metrics(info: Info) -> SystemMetrics:
    """Host and process metrics of the API process answering this request."""
    host, process = await asyncio.gather(host_sample(), process_sample())
    return SystemMetrics(
        host=HostMetrics.from_model(host), process=ProcessMetrics.from_sample(process)
    )


async def metrics_history(
    info: Info, from_: datetime, to: datetime, step_seconds: int
) -> list[MetricsPoint]:
    """Snapshots bucketed by `stepSeconds` from `from` (inclusive) to `to` (exclusive), at most
    1000 points; buckets without snapshots have `samples: 0`."""
    points = await history(info.context.services.sessions, from_, to, step_seconds)
    return [MetricsPoint.from_point(p) for p in points]


async def dashboard(info: Info) -> Dashboard:
    """Health, workers, queues, the latest metrics, active alerts and recent failures."""
    monitoring = monitoring_for(info.context.services)
    view = info.context.view

    async def workers() -> list[WorkerSample]:
        try:
            return await workers_from_view(view)
        except AppError:
            return []

    found, live_workers = await asyncio.gather(overview(monitoring, view), workers())
    return Dashboard.from_overview(found, live_workers)


async def monitoring_status(info: Info) -> MonitoringStatus:
    """Whether monitoring is on, which process samples, when it last did, and how often."""
    return MonitoringStatus.from_status(await status(monitoring_for(info.context.services)))


async def alerts(info: Info, active: bool = True, first: int = 50) -> list[Alert]:
    """Active alerts (most severe first), or with `active: false` the history, newest first."""
    if not 1 <= first <= MAX_ALERTS:
        raise BadInput(f"first must be between 1 and {MAX_ALERTS}", field="first")
    monitoring = monitoring_for(info.context.services)
    found = await (monitoring.active_alerts() if active else monitoring.alerts.history(first))
    return [Alert.from_model(a) for a in found[:first]]


__all__ = [
    "alerts",
    "dashboard",
    "metrics_history",
    "monitoring_status",
    "realtime_metrics",
    "system_metrics",
]
