"""Prometheus counters of the durable event source and of settling, from the leading collector's
status key (any replica serves them; they restart from 0 with the collector, as counters may).

- `celery_admin_event_stream_entries_total`, `..._acked_total`, `..._claimed_total`: entries read,
  acknowledged after their rows were written, taken over from a consumer that died;
- `celery_admin_event_stream_lost_events_total`: events never seen, counted from the gaps in each
  producer's sequence numbers (fell off a stream's cap, or dropped by a worker that could not
  write); `celery_admin_event_stream_source_dropped_events_total`: what workers say they dropped;
- `celery_admin_tasks_settled_total{how}`: tasks settled from the result backend or marked UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

_STREAM = (
    ("entries", "entries", "Durable stream entries read."),
    ("acked", "acked", "Durable stream entries acknowledged after their rows were written."),
    ("claimed", "claimed", "Durable stream entries taken over from a consumer that died."),
    ("lost_events", "lost", "Events never seen: gaps in the producers' sequence numbers."),
    ("source_dropped_events", "source_dropped", "Events workers dropped before writing them."),
)


class DurableMetrics(Collector):
    def __init__(self, report: dict[str, Any] | None) -> None:
        self.report = report or {}

    def collect(self) -> Iterable[Metric]:
        stream = self.report.get("stream")
        if isinstance(stream, dict):
            for name, key, doc in _STREAM:
                family = CounterMetricFamily(f"celery_admin_event_stream_{name}", doc)
                family.add_metric([], float(stream.get(key) or 0))
                yield family
        settle = self.report.get("settle")
        if isinstance(settle, dict):
            family = CounterMetricFamily(
                "celery_admin_tasks_settled",
                "Tasks left STARTED/RECEIVED by a gap, settled: from the result backend or UNKNOWN.",
                labels=["how"],
            )
            family.add_metric(["result_backend"], float(settle.get("from_backend") or 0))
            family.add_metric(["unknown"], float(settle.get("unknown") or 0))
            yield family


def durable_exposition(report: dict[str, Any] | None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DurableMetrics(report))
    return generate_latest(registry)


__all__ = ["DurableMetrics", "durable_exposition"]
