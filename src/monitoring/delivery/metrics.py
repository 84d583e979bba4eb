"""Alert delivery on /metrics, from the delivery leader's latest report (shared state):
`celery_admin_alert_delivery_backlog{sink}` (notifications not delivered yet) and
`celery_admin_alert_delivery_oldest_seconds{sink}` (how long the oldest of them has waited), so a
receiver that has been refusing for a while is itself alerted on by Prometheus."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from src.monitoring.delivery.deliverer import SinkBacklog


class DeliveryMetrics(Collector):
    def __init__(self, backlog: list[SinkBacklog]) -> None:
        self.backlog = backlog

    def collect(self) -> Iterable[Metric]:
        pending = GaugeMetricFamily(
            "celery_admin_alert_delivery_backlog",
            "Alert notifications not delivered yet, by sink.",
            labels=["sink"],
        )
        oldest = GaugeMetricFamily(
            "celery_admin_alert_delivery_oldest_seconds",
            "Age of the oldest alert notification not delivered yet, by sink.",
            labels=["sink"],
        )
        for entry in self.backlog:
            pending.add_metric([entry.sink], float(entry.undelivered))
            oldest.add_metric([entry.sink], entry.oldest_age_seconds)
        yield pending
        yield oldest


__all__ = ["DeliveryMetrics"]
