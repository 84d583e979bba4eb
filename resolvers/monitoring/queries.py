"""Root fields of the monitoring domain: thin mappings of src/monitoring to schema types."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import strawberry

from schema.core.context import Info
from schema.core.fields import query
from schema.core.mapping import build
from schema.monitoring.types import (
    Alert,
    Dashboard,
    HostMetrics,
    MetricsPoint,
    MetricsSample,
    MonitoringStatus,
    ProcessMetrics,
    SystemMetrics,
)
from src.auth import scoped_views
from src.auth.roles import Role
from src.errors import AppError, BadInput
from src.monitoring.host import host_sample, process_sample
from src.monitoring.overview import overview, status
from src.monitoring.sample import WorkerSample
from src.monitoring.sampler import workers_from_view
from src.monitoring.snapshots import metrics_history as history

MAX_ALERTS = 500


@query(Role.VIEWER, cluster_wide=True)
async def realtime_metrics(info: Info) -> MetricsSample | None:
    """The latest sample taken by the monitoring leader (the same on every replica); null before
    the first sample or long after monitoring was switched off."""
    latest = await info.context.monitoring.latest()
    return MetricsSample.from_model(latest) if latest else None


@query(Role.VIEWER)
async def system_metrics(info: Info) -> SystemMetrics:
    """Host and process metrics of the API process answering this request."""
    host, process = await asyncio.gather(host_sample(), process_sample())
    return SystemMetrics(host=build(HostMetrics, host), process=build(ProcessMetrics, process))


@query(Role.VIEWER, cluster_wide=True)
async def metrics_history(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from", description="Inclusive.")],
    to: Annotated[datetime, strawberry.argument(description="Exclusive.")],
    step_seconds: Annotated[int, strawberry.argument(description="Bucket width.")] = 60,
) -> list[MetricsPoint]:
    """Snapshots bucketed by `stepSeconds` from `from` (inclusive) to `to` (exclusive), at most
    1000 points; buckets without snapshots have `samples: 0`."""
    points = await history(info.context.monitoring.db, from_, to, step_seconds)
    return [MetricsPoint.from_point(p) for p in points]


@query(Role.VIEWER)
async def dashboard(info: Info) -> Dashboard:
    """Health, workers, queues, the latest metrics, active alerts and recent failures. For a
    scoped caller: its queues, workers, alerts and recent failures, and no cluster-wide sample
    (`metrics` is null)."""
    monitoring = info.context.monitoring
    view = info.context.view
    scope = info.context.task_scope

    async def workers() -> list[WorkerSample]:
        try:
            return await workers_from_view(view)
        except AppError:
            return []

    found, live_workers = await asyncio.gather(overview(monitoring, view, scope), workers())
    if scope is not None:
        found = scoped_views.overview(scope, found)
        live_workers = scoped_views.worker_samples(scope, live_workers)
    return Dashboard.from_overview(found, live_workers)


@query(Role.VIEWER)
async def monitoring_status(info: Info) -> MonitoringStatus:
    """Whether monitoring is on, which process samples, when it last did, and how often."""
    return build(MonitoringStatus, await status(info.context.monitoring))


@query(Role.VIEWER)
async def alerts(info: Info, active: bool = True, first: int = 50) -> list[Alert]:
    """Active alerts (most severe first), or with `active: false` the history, newest first. A
    scoped caller sees only alerts about what is in its scope (queues, workers, periodic entries,
    task selections wholly in scope), from the newest MAX_ALERTS of the history."""
    if not 1 <= first <= MAX_ALERTS:
        raise BadInput(f"first must be between 1 and {MAX_ALERTS}", field="first")
    monitoring = info.context.monitoring
    scope = info.context.task_scope
    if active:
        found = await info.context.once("active-alerts", monitoring.active_alerts)
    else:
        wanted = first if scope is None else MAX_ALERTS
        found = await info.context.once(
            ("alert-history", wanted), lambda: monitoring.alerts.history(wanted)
        )
    return [Alert.from_model(a) for a in scoped_views.alerts(scope, found)[:first]]


__all__ = [
    "alerts",
    "dashboard",
    "metrics_history",
    "monitoring_status",
    "realtime_metrics",
    "system_metrics",
]
