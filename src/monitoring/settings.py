"""Operator-editable monitoring knobs, declared in `celery_system_config` so every replica and the
leader read the same values and an operator can change them without a restart."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from src.system_config import ConfigStore, declare

METRICS_INTERVAL = declare(
    "monitoring.metrics_interval_seconds",
    Annotated[float, Field(ge=0.1, le=3600)],
    5.0,
    "Seconds between two metrics samples (published live, used by alerts).",
)
SNAPSHOT_INTERVAL = declare(
    "monitoring.snapshot_interval_seconds",
    Annotated[float, Field(ge=1, le=86400)],
    60.0,
    "Seconds between two rows in celery_monitoring_snapshots (history charts).",
)
SNAPSHOT_RETENTION_DAYS = declare(
    "monitoring.snapshot_retention_days",
    Annotated[float, Field(gt=0, le=3650)],
    7.0,
    "Snapshots and resolved alerts older than this are deleted.",
)
THROUGHPUT_WINDOW = declare(
    "monitoring.throughput_window_seconds",
    Annotated[float, Field(ge=10, le=86400)],
    300.0,
    "Recent window over which throughput by state and runtime percentiles are computed.",
)
TOTALS_INTERVAL = declare(
    "monitoring.totals_interval_seconds",
    Annotated[float, Field(ge=1, le=3600)],
    30.0,
    "Seconds between two recomputations of the all-time task totals behind GET /metrics.",
)
PROMETHEUS_MAX_QUEUES = declare(
    "monitoring.prometheus_max_queue_labels",
    Annotated[int, Field(ge=1, le=1000)],
    50,
    'Distinct queue label values on /metrics; the rest are folded into queue="other".',
)
PROMETHEUS_MAX_WORKERS = declare(
    "monitoring.prometheus_max_worker_labels",
    Annotated[int, Field(ge=1, le=1000)],
    100,
    'Distinct worker label values on /metrics; the rest are folded into worker="other".',
)


async def get_float(config: ConfigStore, name: str) -> float:
    return float(await config.get(name))


__all__ = [
    "METRICS_INTERVAL",
    "PROMETHEUS_MAX_QUEUES",
    "PROMETHEUS_MAX_WORKERS",
    "SNAPSHOT_INTERVAL",
    "SNAPSHOT_RETENTION_DAYS",
    "THROUGHPUT_WINDOW",
    "TOTALS_INTERVAL",
    "get_float",
]
