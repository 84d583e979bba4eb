"""Monitoring queries (viewer role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import monitoring as resolve
from resolvers import monitoring_streams as streams
from schema.context import Info
from schema.permissions import IsViewer
from schema.types.monitoring import (
    Alert,
    Dashboard,
    MetricsPoint,
    MetricsSample,
    MonitoringStatus,
    SystemMetrics,
)


async def _metrics_history(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from", description="Inclusive.")],
    to: Annotated[datetime, strawberry.argument(description="Exclusive.")],
    step_seconds: Annotated[int, strawberry.argument(description="Bucket width.")] = 60,
) -> list[MetricsPoint]:
    return await resolve.metrics_history(info, from_, to, step_seconds)


@strawberry.type
class MonitoringQueries:
    realtime_metrics: MetricsSample | None = strawberry.field(
        resolver=resolve.realtime_metrics,
        permission_classes=[IsViewer],
        description=resolve.realtime_metrics.__doc__,
    )
    system_metrics: SystemMetrics = strawberry.field(
        resolver=resolve.system_metrics,
        permission_classes=[IsViewer],
        description=resolve.system_metrics.__doc__,
    )
    metrics_history: list[MetricsPoint] = strawberry.field(
        resolver=_metrics_history,
        permission_classes=[IsViewer],
        description=resolve.metrics_history.__doc__,
    )
    dashboard: Dashboard = strawberry.field(
        resolver=resolve.dashboard,
        permission_classes=[IsViewer],
        description=resolve.dashboard.__doc__,
    )
    monitoring_status: MonitoringStatus = strawberry.field(
        resolver=resolve.monitoring_status,
        permission_classes=[IsViewer],
        description=resolve.monitoring_status.__doc__,
    )
    alerts: list[Alert] = strawberry.field(
        resolver=resolve.alerts, permission_classes=[IsViewer], description=resolve.alerts.__doc__
    )


@strawberry.type
class MonitoringSubscriptions:
    metrics = strawberry.subscription(
        resolver=streams.metrics,
        permission_classes=[IsViewer],
        description=streams.metrics.__doc__,
    )
    alerts = strawberry.subscription(
        resolver=streams.alerts,
        permission_classes=[IsViewer],
        description=streams.alerts.__doc__,
    )


__all__ = ["MonitoringQueries", "MonitoringSubscriptions"]
