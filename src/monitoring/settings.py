"""Operator-editable monitoring knobs, declared in `celery_system_config` so every replica and the
leader read the same values and an operator can change them without a restart."""

from __future__ import annotations

from src.system.config import ConfigStore, declare_number

METRICS_INTERVAL = declare_number(
    "monitoring.metrics_interval_seconds",
    5.0,
    "Seconds between two metrics samples (published live, used by alerts).",
    ge=0.1,
    le=3600,
)
SNAPSHOT_INTERVAL = declare_number(
    "monitoring.snapshot_interval_seconds",
    60.0,
    "Seconds between two rows in celery_monitoring_snapshots (history charts).",
    ge=1,
    le=86400,
)
SNAPSHOT_RETENTION_DAYS = declare_number(
    "monitoring.snapshot_retention_days",
    7.0,
    "Snapshots and resolved alerts older than this are deleted.",
    gt=0,
    le=3650,
)
THROUGHPUT_WINDOW = declare_number(
    "monitoring.throughput_window_seconds",
    300.0,
    "Recent window over which throughput by state and runtime percentiles are computed.",
    ge=10,
    le=86400,
)
TOTALS_INTERVAL = declare_number(
    "monitoring.totals_interval_seconds",
    30.0,
    "Seconds between two recomputations of the all-time task totals behind GET /metrics.",
    ge=1,
    le=3600,
)
PROMETHEUS_MAX_QUEUES = declare_number(
    "monitoring.prometheus_max_queue_labels",
    50,
    'Distinct queue label values on /metrics; the rest are folded into queue="other".',
    ge=1,
    le=1000,
)
PROMETHEUS_MAX_WORKERS = declare_number(
    "monitoring.prometheus_max_worker_labels",
    100,
    'Distinct worker label values on /metrics; the rest are folded into worker="other".',
    ge=1,
    le=1000,
)
PROMETHEUS_MAX_TASK_NAMES = declare_number(
    "monitoring.prometheus_max_task_name_labels",
    100,
    "Distinct (task name, queue) pairs on the per-task-name metrics; the rest are folded into "
    'name="other", queue="other".',
    ge=1,
    le=5000,
)


async def get_float(config: ConfigStore, name: str) -> float:
    return float(await config.get(name))


__all__ = [
    "METRICS_INTERVAL",
    "PROMETHEUS_MAX_QUEUES",
    "PROMETHEUS_MAX_TASK_NAMES",
    "PROMETHEUS_MAX_WORKERS",
    "SNAPSHOT_INTERVAL",
    "SNAPSHOT_RETENTION_DAYS",
    "THROUGHPUT_WINDOW",
    "TOTALS_INTERVAL",
    "get_float",
]
