"""Monitoring types: metrics samples, history points, host/process metrics, alerts, the dashboard
and the monitoring status."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.shared_results import share_results
from schema.types.events import EventsMissed
from schema.types.system import Component, HealthState
from src.monitoring import sample as m
from src.monitoring.alerts import Alert as AlertModel
from src.monitoring.host import ProcessSample
from src.monitoring.overview import Overview, Status
from src.monitoring.snapshots import HistoryPoint


@strawberry.enum(description="How serious an alert is.")
class AlertSeverity(Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


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

    @classmethod
    def from_model(cls, q: m.QueueSample) -> QueueMetrics:
        return cls(
            name=q.name,
            length=q.length,
            unacked=q.unacked,
            consumers=q.consumers,
            oldest_age_seconds=q.oldest_age_seconds,
            oldest_age_source=q.oldest_age_source,
            oldest_task_id=q.oldest_task_id,
        )


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

    @classmethod
    def from_model(cls, r: m.RuntimeStats) -> RuntimePercentiles:
        return cls(count=r.count, p50=r.p50, p90=r.p90, p95=r.p95, p99=r.p99, max=r.max)


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
        return cls(
            window_seconds=t.window_seconds,
            by_state=_states(t.by_state),
            succeeded_per_minute=t.succeeded_per_minute,
            failed_per_minute=t.failed_per_minute,
            runtime=RuntimePercentiles.from_model(t.runtime),
            by_queue=[
                QueueThroughput(
                    queue=queue,
                    by_state=_states(states),
                    runtime=(
                        RuntimePercentiles.from_model(t.runtime_by_queue[queue])
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

    @classmethod
    def from_model(cls, h: m.HostSample) -> HostMetrics:
        return cls(
            cpu_percent=h.cpu_percent,
            memory_percent=h.memory_percent,
            memory_used_bytes=h.memory_used_bytes,
            memory_total_bytes=h.memory_total_bytes,
            disk_percent=h.disk_percent,
            disk_path=h.disk_path,
            load_1m=h.load_1m,
        )


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
    errors: list[str] = strawberry.field(description="Parts that could not be sampled.")

    @classmethod
    def from_model(cls, s: m.MetricsSample) -> MetricsSample:
        return cls(
            taken_at=s.taken_at,
            interval_seconds=s.interval_seconds,
            duration_ms=s.duration_ms,
            sampler=SamplerProcess(host=s.sampler.host, pid=s.sampler.pid),
            workers_online=s.workers_online,
            tasks_active=s.tasks_active,
            queued_total=s.queued_total,
            max_wait_seconds=s.max_wait_seconds(),
            queues=[QueueMetrics.from_model(q) for q in s.queues],
            workers=[
                WorkerMetrics(
                    hostname=w.hostname,
                    active=w.active,
                    processed=w.processed,
                    pool_size=w.pool_size,
                )
                for w in s.workers
            ],
            throughput=Throughput.from_model(s.throughput),
            host=HostMetrics.from_model(s.host),
            errors=list(s.errors),
        )


@strawberry.type(description="The API process serving this request.")
class ProcessMetrics:
    pid: int
    cpu_percent: float
    rss_bytes: float
    threads: int
    open_files: int | None
    uptime_seconds: float

    @classmethod
    def from_sample(cls, p: ProcessSample) -> ProcessMetrics:
        return cls(
            pid=p.pid,
            cpu_percent=p.cpu_percent,
            rss_bytes=p.rss_bytes,
            threads=p.threads,
            open_files=p.open_files,
            uptime_seconds=p.uptime_seconds,
        )


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
        return cls(
            at=p.at,
            samples=p.samples,
            workers_online=p.workers_online,
            tasks_active=p.tasks_active,
            succeeded_per_minute=p.succeeded_per_minute,
            failed_per_minute=p.failed_per_minute,
            cpu_percent=p.cpu_percent,
            memory_percent=p.memory_percent,
            runtime_p50=p.runtime_p50,
            runtime_p95=p.runtime_p95,
            queued_total_max=p.queued_total,
            max_wait_seconds=p.max_wait_seconds,
        )


@strawberry.type(description="An alert, active or resolved.")
class Alert:
    key: str
    rule_id: str
    kind: str
    severity: AlertSeverity
    subject: str | None
    message: str
    value: float | None
    threshold: float | None
    raised_at: datetime
    resolved_at: datetime | None
    active: bool

    @classmethod
    def from_model(cls, a: AlertModel) -> Alert:
        return cls(
            key=a.key,
            rule_id=a.rule_id,
            kind=a.kind,
            severity=AlertSeverity(a.severity.value),
            subject=a.subject,
            message=a.message,
            value=a.value,
            threshold=a.threshold,
            raised_at=a.raised_at,
            resolved_at=a.resolved_at,
            active=a.resolved_at is None,
        )


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
        by_name = {c.name: c for c in o.components}
        if not by_name["broker"].ok:
            health = HealthState.UNHEALTHY
        elif all(c.ok for c in o.components) and workers:
            health = HealthState.HEALTHY
        else:
            health = HealthState.DEGRADED
        return cls(
            health=health,
            components=[Component.from_health(c) for c in o.components],
            workers=WorkersSummary(
                online=len(workers),
                active_tasks=sum(w.active for w in workers),
                workers=[
                    WorkerMetrics(
                        hostname=w.hostname,
                        active=w.active,
                        processed=w.processed,
                        pool_size=w.pool_size,
                    )
                    for w in workers
                ],
            ),
            queues=[QueueMetrics.from_model(q) for q in o.queues],
            metrics=MetricsSample.from_model(o.latest) if o.latest else None,
            metrics_fresh=o.sample_fresh,
            active_alerts=[Alert.from_model(a) for a in o.active_alerts],
            recent_failures=o.recent_failures,
            recent_failures_window_seconds=o.failures_window_seconds,
        )


@strawberry.type(description="The event bus of the API process answering.")
class BusStatus:
    enabled: bool
    connected: bool
    reconnects: int
    dropped: int
    subscribers: int
    missed: int
    last_error: str | None


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

    @classmethod
    def from_status(cls, s: Status) -> MonitoringStatus:
        b = s.bus
        return cls(
            enabled=s.enabled,
            sampling=s.sampling,
            leader=SamplerProcess(host=s.leader.host, pid=s.leader.pid) if s.leader else None,
            last_sample_at=s.last_sample_at,
            sample_age_seconds=s.sample_age_seconds,
            interval_seconds=s.interval_seconds,
            snapshot_interval_seconds=s.snapshot_interval_seconds,
            retention_days=s.retention_days,
            bus=BusStatus(
                enabled=b.enabled,
                connected=b.connected,
                reconnects=b.reconnects,
                dropped=b.dropped,
                subscribers=b.subscribers,
                missed=b.missed,
                last_error=b.last_error,
            ),
        )


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
    "AlertSeverity",
    "BusStatus",
    "Dashboard",
    "HostMetrics",
    "MetricsMessage",
    "MetricsPoint",
    "MetricsSample",
    "MonitoringStatus",
    "ProcessMetrics",
    "QueueMetrics",
    "SystemMetrics",
    "Throughput",
    "WorkerMetrics",
    "WorkersSummary",
]
