"""`GET /metrics`: Prometheus exposition built from the shared state (the leader's latest sample and
its periodic task totals), never from per-process counters, so every replica serves the same
numbers and a scrape costs two Redis reads.

Names: the seed's `celery_tasks_total{queue,status}`, `celery_task_duration_seconds{queue}`
(histogram) and `celery_active_workers`, plus `celery_queue_length{queue}`,
`celery_queue_wait_seconds{queue}` (age of the oldest waiting message), `celery_worker_up{worker}`,
`celery_worker_active_tasks{worker}` and `celery_admin_sample_age_seconds`, and the collector's
`celery_admin_collector_dropped_events_total{reason}`, `celery_admin_collector_dropping`,
`celery_admin_collector_degraded` and `celery_admin_collector_pending_tasks`.

Label cardinality is bounded: at most `monitoring.prometheus_max_queue_labels` queue values (the
busiest) and `monitoring.prometheus_max_worker_labels` worker values; the rest are folded into
"other" (summed; for wait time, the maximum; for worker_up, how many folded workers are up).

`celery_tasks_total{queue,status}` counts tasks that reached a final status (SUCCESS, FAILURE,
REVOKED, REJECTED, LOST) and, as status RETRY, retries; it and the duration histogram come from
all-time totals kept apart from the task rows (src/db/models/task_totals.py), so they never go
down when retention prunes history. The per-task-name metrics (src/monitoring/prometheus_names.py)
and alert delivery's backlog (src/monitoring/delivery/metrics.py) are served beside them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from src.collector.drops import DROP_REASONS
from src.monitoring import settings as keys
from src.monitoring.auth_metrics import AuthFailureMetrics
from src.monitoring.delivery.deliverer import read_backlog
from src.monitoring.delivery.metrics import DeliveryMetrics
from src.monitoring.prometheus_names import TaskNameMetrics
from src.monitoring.sample import MetricsSample, TaskTotals
from src.monitoring.service import Monitoring

OTHER = "other"
WORKER_MEMORY_SECONDS = 86400.0


def keep_top(weights: dict[str, float], limit: int) -> set[str]:
    """The `limit` heaviest names (ties by name); everything else folds into OTHER."""
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    return {name for name, _ in ranked[:limit]}


def fold(name: str, kept: set[str]) -> str:
    return name if name in kept else OTHER


class _Snapshot(Collector):
    def __init__(
        self,
        sample: MetricsSample | None,
        totals: TaskTotals | None,
        workers_seen: dict[str, float],
        max_queues: int,
        max_workers: int,
    ) -> None:
        self.sample = sample
        self.totals = totals
        self.workers_seen = workers_seen
        self.max_queues = max_queues
        self.max_workers = max_workers

    def collect(self) -> Iterable[Metric]:
        weights: dict[str, float] = defaultdict(float)
        if self.totals:
            for queue, states in self.totals.by_queue_state.items():
                weights[queue] += sum(states.values())
        if self.sample:
            for q in self.sample.queues:
                weights[q.name] += q.length
        kept = keep_top(weights, self.max_queues)
        yield from self._tasks(kept)
        yield from self._queues(kept)
        yield from self._workers()
        yield from self._collector()

    def _collector(self) -> Iterator[Metric]:
        report = self.sample.collector if self.sample else None
        if report is None:
            return
        dropped = CounterMetricFamily(
            "celery_admin_collector_dropped_events",
            "Events the collector lost since it started, by where: intake (its budget), frames "
            "(cut or malformed), overflow (merge buffer full), bus (live updates not delivered), "
            "stream_gap (durable mode: gaps in the producers' sequence numbers).",
            labels=["reason"],
        )
        for reason in DROP_REASONS:
            dropped.add_metric([reason], float(report.dropped.get(reason, 0)))
        yield dropped
        yield GaugeMetricFamily(
            "celery_admin_collector_dropping",
            "1 while the collector drops events (it is degraded then).",
            value=1.0 if report.dropping else 0.0,
        )
        yield GaugeMetricFamily(
            "celery_admin_collector_degraded",
            "1 while the collector is degraded (database writes failing, or dropping events).",
            value=1.0 if report.degraded else 0.0,
        )
        yield GaugeMetricFamily(
            "celery_admin_collector_pending_tasks",
            "Task updates the collector holds for its next database write.",
            value=float(report.pending_tasks),
        )

    def _tasks(self, kept: set[str]) -> Iterator[Metric]:
        counter = CounterMetricFamily(
            "celery_tasks",
            "Tasks that reached a final state (and retries, as RETRY), by queue and state.",
            labels=["queue", "status"],
        )
        histogram = HistogramMetricFamily(
            "celery_task_duration_seconds", "Task runtimes, by queue.", labels=["queue"]
        )
        if self.totals:
            counts: dict[tuple[str, str], int] = defaultdict(int)
            for queue, states in self.totals.by_queue_state.items():
                for state, n in states.items():
                    counts[(fold(queue, kept), state)] += n
            for (queue, state), n in sorted(counts.items()):
                counter.add_metric([queue, state], n)
            buckets: dict[str, list[int]] = {}
            sums: dict[str, float] = defaultdict(float)
            totals_n: dict[str, int] = defaultdict(int)
            for queue, cumulative in self.totals.histogram.items():
                label = fold(queue, kept)
                current = buckets.setdefault(label, [0] * len(cumulative))
                buckets[label] = [a + b for a, b in zip(current, cumulative, strict=True)]
                sums[label] += self.totals.runtime_sum.get(queue, 0.0)
                totals_n[label] += self.totals.runtime_count.get(queue, 0)
            for label in sorted(buckets):
                pairs = [
                    (_le(b), float(n))
                    for b, n in zip(self.totals.buckets, buckets[label], strict=True)
                ]
                pairs.append(("+Inf", float(totals_n[label])))
                histogram.add_metric([label], pairs, sum_value=sums[label])
        yield counter
        yield histogram

    def _queues(self, kept: set[str]) -> Iterator[Metric]:
        if self.sample is None:
            return
        length = GaugeMetricFamily(
            "celery_queue_length", "Messages waiting in the queue.", labels=["queue"]
        )
        wait = GaugeMetricFamily(
            "celery_queue_wait_seconds",
            "Age of the oldest waiting message (a lower bound when only observed).",
            labels=["queue"],
        )
        lengths: dict[str, int] = defaultdict(int)
        waits: dict[str, float] = {}
        for q in self.sample.queues:
            label = fold(q.name, kept)
            lengths[label] += q.length
            if q.oldest_age_seconds is not None:
                waits[label] = max(waits.get(label, 0.0), q.oldest_age_seconds)
        for label in sorted(lengths):
            length.add_metric([label], lengths[label])
            wait.add_metric([label], waits.get(label, 0.0))
        yield length
        yield wait
        yield GaugeMetricFamily(
            "celery_active_workers", "Workers answering.", value=self.sample.workers_online
        )
        yield GaugeMetricFamily(
            "celery_admin_sample_age_seconds",
            "Seconds since the monitoring leader took the sample served here.",
            value=max(0.0, (datetime.now(UTC) - self.sample.taken_at).total_seconds()),
        )

    def _workers(self) -> Iterator[Metric]:
        if self.sample is None:
            return
        online = {w.hostname: w for w in self.sample.workers}
        now = time.time()
        known = set(online) | {
            h for h, at in self.workers_seen.items() if now - at <= WORKER_MEMORY_SECONDS
        }
        kept = keep_top({h: 1.0 if h in online else 0.0 for h in known}, self.max_workers)
        up: dict[str, float] = defaultdict(float)
        active: dict[str, float] = defaultdict(float)
        for hostname in known:
            label = fold(hostname, kept)
            up[label] += 1.0 if hostname in online else 0.0
            if hostname in online:
                active[label] += online[hostname].active
        up_family = GaugeMetricFamily(
            "celery_worker_up",
            "1 when the worker answers, 0 when it stopped answering.",
            labels=["worker"],
        )
        active_family = GaugeMetricFamily(
            "celery_worker_active_tasks", "Tasks the worker is executing.", labels=["worker"]
        )
        for label in sorted(up):
            up_family.add_metric([label], up[label])
            active_family.add_metric([label], active.get(label, 0.0))
        yield up_family
        yield active_family


def _le(bound: float) -> str:
    return repr(float(bound))


async def exposition(monitoring: Monitoring) -> bytes:
    """The text exposition for one scrape."""
    config = monitoring.config
    sample = await monitoring.latest()
    totals = await monitoring.totals()
    seen = await monitoring.alerts.workers_seen()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        _Snapshot(
            sample,
            totals,
            seen,
            int(await config.get(keys.PROMETHEUS_MAX_QUEUES.name)),
            int(await config.get(keys.PROMETHEUS_MAX_WORKERS.name)),
        )
    )
    registry.register(
        TaskNameMetrics(totals, int(await config.get(keys.PROMETHEUS_MAX_TASK_NAMES.name)))
    )
    registry.register(DeliveryMetrics(await read_backlog(monitoring.state)))
    sign_ins = monitoring.alerts.sign_ins
    if sign_ins is not None:
        with suppress(RedisError, OSError):  # Redis away: the rest of the scrape still answers
            registry.register(AuthFailureMetrics(await sign_ins.store.totals()))
    return generate_latest(registry)


__all__ = ["OTHER", "exposition", "fold", "keep_top"]
