"""Monitoring types: metrics samples, history points, host/process metrics, alerts, the dashboard
and the monitoring status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

import strawberry

from schema.adapters.shared_results import share_results
from schema.core.mapping import build, build_all
from schema.core.payloads import MutationPayload
from schema.periodic.beat import BeatStatus
from schema.streams.types import EventBusStatus, EventsMissed
from schema.system.types import Component, HealthState
from src.control.result import CommandResult
from src.monitoring import sample as m
from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert as AlertModel
from src.monitoring.overview import Overview
from src.monitoring.snapshots import HistoryPoint

# The domain enum, registered with Strawberry under its GraphQL name (annotated in place).
AlertSeverityEnum = strawberry.enum(
    Severity, name="AlertSeverity", description="How serious an alert is."
)


@strawberry.type(description="One queue in a metrics sample.")
class QueueMetrics:
    name: str
    length: int
    unacked: int | None
    consumers: int
    oldest_age_seconds: float | None = strawberry.field(
        description="How long the oldest waiting message has waited (null: empty or unknown)."
    )
    oldest_age_source: str | None = strawberry.field(
        description="header (stamped in the message), sent_event (task-sent time), or observed "
        "(a lower bound: since the sampler first saw it waiting)."
    )
    oldest_task_id: str | None


@strawberry.type(description="One worker in a metrics sample.")
class WorkerMetrics:
    hostname: str
    active: int
    processed: int | None
    pool_size: int | None


@strawberry.type(description="Runtime percentiles (seconds) of tasks finished in the window.")
class RuntimePercentiles:
    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None


@strawberry.type(description="How many tasks finished in one state.")
class StateCount:
    state: str
    count: int


@strawberry.type(description="Throughput and runtimes of one queue in the window.")
class QueueThroughput:
    queue: str
    by_state: list[StateCount]
    runtime: RuntimePercentiles | None


@strawberry.type(description="Tasks finished in the recent window.")
class Throughput:
    window_seconds: float
    by_state: list[StateCount]
    succeeded_per_minute: float
    failed_per_minute: float
    runtime: RuntimePercentiles
    by_queue: list[QueueThroughput]

    @classmethod
    def from_model(cls, t: m.Throughput) -> Throughput:
        return build(
            cls,
            t,
            by_state=_states(t.by_state),
            by_queue=[
                QueueThroughput(
                    queue=queue,
                    by_state=_states(states),
                    runtime=(
                        build(RuntimePercentiles, t.runtime_by_queue[queue])
                        if queue in t.runtime_by_queue
                        else None
                    ),
                )
                for queue, states in sorted(t.by_queue.items())
            ],
        )


def _states(counts: dict[str, int]) -> list[StateCount]:
    return [StateCount(state=s, count=n) for s, n in sorted(counts.items())]


@strawberry.type(description="CPU, memory, disk and load of a host.")
class HostMetrics:
    cpu_percent: float | None
    memory_percent: float | None
    memory_used_bytes: float | None
    memory_total_bytes: float | None
    disk_percent: float | None
    disk_path: str | None
    load_1m: float | None


@strawberry.type(description="The process that took a sample (the monitoring leader).")
class SamplerProcess:
    host: str
    pid: int


@strawberry.type(description="One metrics sample, as the leader's sampler took it.")
class MetricsSample:
    taken_at: datetime
    interval_seconds: float
    duration_ms: float
    sampler: SamplerProcess
    workers_online: int
    tasks_active: int
    queued_total: int
    max_wait_seconds: float | None
    queues: list[QueueMetrics]
    workers: list[WorkerMetrics]
    throughput: Throughput
    host: HostMetrics = strawberry.field(description="The sampling host (the leader's).")
    beat: BeatStatus | None = strawberry.field(
        description="Periodic entries and beat's liveness (null when not sampled)."
    )
    errors: list[str] = strawberry.field(description="Parts that could not be sampled.")

    @classmethod
    def from_model(cls, s: m.MetricsSample) -> MetricsSample:
        return build(
            cls,
            s,
            max_wait_seconds=s.max_wait_seconds(),
            throughput=Throughput.from_model(s.throughput),
        )


@strawberry.type(description="The API process serving this request.")
class ProcessMetrics:
    pid: int
    cpu_percent: float
    rss_bytes: float
    threads: int
    open_files: int | None
    uptime_seconds: float


@strawberry.type(description="Host and process metrics of the API process answering.")
class SystemMetrics:
    host: HostMetrics
    process: ProcessMetrics


@strawberry.type(description="One bucket of metrics history: averages, and maxima where named.")
class MetricsPoint:
    at: datetime = strawberry.field(description="Start of the bucket.")
    samples: int = strawberry.field(description="Snapshots in the bucket (0: no data).")
    workers_online: float | None
    tasks_active: float | None
    succeeded_per_minute: float | None
    failed_per_minute: float | None
    cpu_percent: float | None
    memory_percent: float | None
    runtime_p50: float | None
    runtime_p95: float | None
    queued_total_max: int | None
    max_wait_seconds: float | None

    @classmethod
    def from_point(cls, p: HistoryPoint) -> MetricsPoint:
        return build(cls, p, queued_total_max=p.queued_total)


@strawberry.type(description="An alert, active or resolved.")
class Alert:
    key: str
    rule_id: str
    kind: str
    severity: Severity
    subject: str | None
    message: str
    value: float | None
    threshold: float | None
    raised_at: datetime
    resolved_at: datetime | None
    active: bool

    @classmethod
    def from_model(cls, a: AlertModel) -> Alert:
        return build(cls, a, active=a.resolved_at is None)


@strawberry.type(description="Workers at a glance.")
class WorkersSummary:
    online: int
    active_tasks: int
    workers: list[WorkerMetrics]


@strawberry.type(description="Everything an overview page needs, in one round trip.")
class Dashboard:
    health: HealthState
    components: list[Component]
    workers: WorkersSummary
    queues: list[QueueMetrics]
    metrics: MetricsSample | None = strawberry.field(
        description="The latest sample (null when monitoring has not sampled yet)."
    )
    metrics_fresh: bool
    active_alerts: list[Alert]
    recent_failures: int | None = strawberry.field(
        description="Tasks failed within recentFailuresWindowSeconds (null: database away)."
    )
    recent_failures_window_seconds: float

    @classmethod
    def from_overview(cls, o: Overview, workers: list[m.WorkerSample]) -> Dashboard:
        return cls(
            health=HealthState.of(o.components, len(workers)),
            components=build_all(Component, o.components),
            workers=WorkersSummary(
                online=len(workers),
                active_tasks=sum(w.active for w in workers),
                workers=build_all(WorkerMetrics, workers),
            ),
            queues=build_all(QueueMetrics, o.queues),
            metrics=MetricsSample.from_model(o.latest) if o.latest else None,
            metrics_fresh=o.sample_fresh,
            active_alerts=[Alert.from_model(a) for a in o.active_alerts],
            recent_failures=o.recent_failures,
            recent_failures_window_seconds=o.failures_window_seconds,
        )


@strawberry.type(description="The event bus of the API process answering.")
class BusStatus(EventBusStatus):
    """The same figures as systemStatus's EventBusStatus, under the name dashboards know."""


@strawberry.type(description="Is monitoring on, who samples, and how often.")
class MonitoringStatus:
    enabled: bool
    sampling: bool = strawberry.field(description="A recent sample exists (the leader is working).")
    leader: SamplerProcess | None
    last_sample_at: datetime | None
    sample_age_seconds: float | None
    interval_seconds: float
    snapshot_interval_seconds: float
    retention_days: float
    bus: BusStatus


@strawberry.type(description="Whether monitoring runs, cluster-wide.")
class MonitoringPayload(MutationPayload):
    enabled: bool | None = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        return super().of(result, enabled=result.data.get("enabled"), **produced)


@strawberry.type(description="An alert as a subscription delivers it.")
class AlertEvent:
    kind: str = strawberry.field(
        description="alert.current (active when you subscribed), alert.raised or alert.resolved."
    )
    alert: Alert


share_results(MetricsSample, AlertEvent)  # their fields do not depend on the caller

MetricsMessage = Annotated[
    MetricsSample | EventsMissed,
    strawberry.union("MetricsMessage", description="A metrics sample, or a missed notice."),
]
AlertMessage = Annotated[
    AlertEvent | EventsMissed,
    strawberry.union("AlertMessage", description="An alert event, or a missed notice."),
]


__all__ = [
    "Alert",
    "AlertEvent",
    "AlertMessage",
    "AlertSeverityEnum",
    "BusStatus",
    "Dashboard",
    "HostMetrics",
    "MetricsMessage",
    "MetricsPoint",
    "MetricsSample",
    "MonitoringPayload",
    "MonitoringStatus",
    "ProcessMetrics",
    "QueueMetrics",
    "SystemMetrics",
    "Throughput",
    "WorkerMetrics",
    "WorkersSummary",
]
