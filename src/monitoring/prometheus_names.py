"""Per-task-name metrics on /metrics, what celery-exporter users look for, from the all-time
totals (so they never go down when task history is pruned):

- `celery_task_received_total{name,queue}`: tasks recorded (a task's first event);
- `celery_task_succeeded_total`, `celery_task_failed_total`, `celery_task_revoked_total`,
  `celery_task_rejected_total`, `celery_task_lost_total`: tasks that reached that final state;
- `celery_task_retried_total`: retries;
- `celery_task_runtime_seconds{name,queue}`: a histogram of runtimes.

Cardinality is bounded: at most `monitoring.prometheus_max_task_name_labels` (name, queue) pairs,
the busiest by tasks received; every other pair is folded into `name="other", queue="other"`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from src.monitoring.sample import NameTotals, TaskTotals
from src.monitoring.task_stats import SEEN

OTHER = "other"
COUNTERS = (
    ("celery_task_received", SEEN, "Tasks recorded (first seen), by task name and queue."),
    ("celery_task_succeeded", "SUCCESS", "Tasks that succeeded, by task name and queue."),
    ("celery_task_failed", "FAILURE", "Tasks that failed, by task name and queue."),
    ("celery_task_retried", "RETRY", "Task retries, by task name and queue."),
    ("celery_task_revoked", "REVOKED", "Tasks revoked, by task name and queue."),
    ("celery_task_rejected", "REJECTED", "Tasks rejected, by task name and queue."),
    ("celery_task_lost", "LOST", "Tasks lost with their worker, by task name and queue."),
)


def _fold(totals: TaskTotals, limit: int) -> dict[tuple[str, str], NameTotals]:
    ranked = sorted(totals.by_name, key=lambda t: (-t.states.get(SEEN, 0), t.name, t.queue))
    folded: dict[tuple[str, str], NameTotals] = {}
    for i, entry in enumerate(ranked):
        key = (entry.name, entry.queue) if i < limit else (OTHER, OTHER)
        target = folded.get(key)
        if target is None:
            folded[key] = entry.model_copy(deep=True)
            if i >= limit:
                folded[key].name, folded[key].queue = OTHER, OTHER
            continue
        merged: dict[str, int] = defaultdict(int, target.states)
        for state, n in entry.states.items():
            merged[state] += n
        target.states = dict(merged)
        target.histogram = [a + b for a, b in zip(target.histogram, entry.histogram, strict=True)]
        target.runtime_count += entry.runtime_count
        target.runtime_sum += entry.runtime_sum
    return folded


class TaskNameMetrics(Collector):
    def __init__(self, totals: TaskTotals | None, max_pairs: int) -> None:
        self.totals = totals
        self.max_pairs = max_pairs

    def collect(self) -> Iterable[Metric]:
        folded = _fold(self.totals, self.max_pairs) if self.totals else {}
        yield from self._counters(folded)
        yield self._runtime(folded)

    def _counters(self, folded: dict[tuple[str, str], NameTotals]) -> Iterator[Metric]:
        for metric, state, description in COUNTERS:
            family = CounterMetricFamily(metric, description, labels=["name", "queue"])
            for (name, queue), entry in sorted(folded.items()):
                if state in entry.states:
                    family.add_metric([name, queue], float(entry.states[state]))
            yield family

    def _runtime(self, folded: dict[tuple[str, str], NameTotals]) -> Metric:
        family = HistogramMetricFamily(
            "celery_task_runtime_seconds",
            "Task runtimes, by task name and queue.",
            labels=["name", "queue"],
        )
        buckets = self.totals.buckets if self.totals else []
        for (name, queue), entry in sorted(folded.items()):
            if not entry.runtime_count:
                continue
            pairs = [
                (repr(float(b)), float(n)) for b, n in zip(buckets, entry.histogram, strict=True)
            ]
            pairs.append(("+Inf", float(entry.runtime_count)))
            family.add_metric([name, queue], pairs, sum_value=entry.runtime_sum)
        return family


__all__ = ["COUNTERS", "OTHER", "TaskNameMetrics"]
