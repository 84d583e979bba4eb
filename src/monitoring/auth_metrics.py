"""`celery_admin_auth_failures_total{reason}` on /metrics: failed authentications since the
counters began (kept in Redis by src/auth/failures.py, so every replica reports the same)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class AuthFailureMetrics(Collector):
    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "celery_admin_auth_failures",
            "Failed authentications, by reason (bad_signature, expired, unknown_issuer, ...).",
            labels=["reason"],
        )
        for reason, count in sorted(self.totals.items()):
            family.add_metric([reason], float(count))
        yield family


__all__ = ["AuthFailureMetrics"]
