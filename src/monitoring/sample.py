"""What one metrics sample holds: plain pydantic models, so the same object is published on the bus,
kept in Redis as the latest sample, stored in snapshots and mapped to GraphQL types."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from src.periodic.sample import BeatSample


class QueueSample(BaseModel):
    name: str
    length: int
    unacked: int | None = None
    consumers: int = 0
    # Age of the oldest waiting message, and how it is known (see src/monitoring/queue_age.py):
    # "header" (a timestamp in the message), "sent_event" (the task-sent time the collector stored),
    # "observed" (a lower bound: since when this sampler has seen the message waiting), or None.
    oldest_age_seconds: float | None = None
    oldest_age_source: str | None = None
    oldest_task_id: str | None = None


class WorkerSample(BaseModel):
    hostname: str
    active: int = 0
    processed: int | None = None
    pool_size: int | None = None


class RuntimeStats(BaseModel):
    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class Throughput(BaseModel):
    window_seconds: float
    by_state: dict[str, int] = Field(default_factory=dict)  # tasks finished in the window
    by_queue: dict[str, dict[str, int]] = Field(default_factory=dict)  # queue -> state -> count
    succeeded_per_minute: float = 0.0
    failed_per_minute: float = 0.0
    runtime: RuntimeStats = Field(default_factory=RuntimeStats)
    runtime_by_queue: dict[str, RuntimeStats] = Field(default_factory=dict)


class HostSample(BaseModel):
    cpu_percent: float | None = None
    memory_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    disk_percent: float | None = None
    disk_path: str | None = None
    load_1m: float | None = None


class CollectorSample(BaseModel):
    """What the leading collector reported (src/collector): events lost, by where, since it
    started, and whether it is dropping now (issue 9: loss is never silent)."""

    dropped: dict[str, int] = Field(default_factory=dict)  # intake, frames, overflow, bus
    dropping: bool = False
    degraded: bool = False
    events: int = 0
    pending_tasks: int = 0


class SamplerIdentity(BaseModel):
    host: str
    pid: int


class MetricsSample(BaseModel):
    taken_at: datetime
    interval_seconds: float
    duration_ms: float = 0.0
    sampler: SamplerIdentity
    workers_online: int = 0
    tasks_active: int = 0
    queued_total: int = 0
    queues: list[QueueSample] = Field(default_factory=list)
    workers: list[WorkerSample] = Field(default_factory=list)
    throughput: Throughput
    host: HostSample = Field(default_factory=HostSample)
    beat: BeatSample | None = None  # periodic entries and beat's liveness (src/periodic)
    collector: CollectorSample | None = None  # None: no collector reported recently
    errors: list[str] = Field(default_factory=list)  # parts that could not be sampled this time

    def max_wait_seconds(self) -> float | None:
        ages = [q.oldest_age_seconds for q in self.queues if q.oldest_age_seconds is not None]
        return max(ages) if ages else None


class NameTotals(BaseModel):
    """All-time counters of one task name on one queue (see src/db/models/task_totals.py)."""

    queue: str
    name: str
    states: dict[str, int] = Field(default_factory=dict)  # SEEN, final states, RETRY
    histogram: list[int] = Field(default_factory=list)  # cumulative, as TaskTotals.buckets
    runtime_count: int = 0
    runtime_sum: float = 0.0


class TaskTotals(BaseModel):
    """All-time task counters (never decreasing: kept apart from the pruned task rows), behind
    the Prometheus counters."""

    computed_at: datetime
    # queue -> final state (and RETRY: retries) -> count
    by_queue_state: dict[str, dict[str, int]] = Field(default_factory=dict)
    buckets: list[float] = Field(default_factory=list)
    # queue -> cumulative counts per bucket (same order as `buckets`), then count and sum
    histogram: dict[str, list[int]] = Field(default_factory=dict)
    runtime_count: dict[str, int] = Field(default_factory=dict)
    runtime_sum: dict[str, float] = Field(default_factory=dict)
    by_name: list[NameTotals] = Field(default_factory=list)


__all__ = [
    "CollectorSample",
    "HostSample",
    "MetricsSample",
    "NameTotals",
    "QueueSample",
    "RuntimeStats",
    "SamplerIdentity",
    "TaskTotals",
    "Throughput",
    "WorkerSample",
]
