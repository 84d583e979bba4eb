"""The monitoring subscriptions: `metrics(interval)` and `alerts(minSeverity)`, on the shared
stream helper (viewer role, checked at start; the stream ends when the token expires)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

from resolvers.streams import live
from schema.context import Info
from schema.types.monitoring import (
    Alert,
    AlertEvent,
    AlertMessage,
    AlertSeverity,
    MetricsMessage,
    MetricsSample,
)
from src.bus.base import Channel
from src.bus.stream import PerMessage
from src.errors import BadInput
from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert as AlertModel
from src.monitoring.runtime import monitoring_for
from src.monitoring.sample import MetricsSample as SampleModel

MIN_INTERVAL, MAX_INTERVAL = 0.1, 3600.0
_RANKS = {s: Severity(s.value).rank for s in AlertSeverity}


def _decode_sample(message: dict[str, Any]) -> MetricsSample | None:
    if message.get("type") != "metrics" or not isinstance(message.get("data"), dict):
        return None
    try:
        return MetricsSample.from_model(SampleModel.model_validate(message["data"]))
    except ValueError:
        return None


def _decode_alert(message: dict[str, Any]) -> AlertEvent | None:
    kind = message.get("type")
    if kind not in ("alert.raised", "alert.resolved"):
        return None
    try:
        alert = AlertModel.model_validate(message.get("data"))
    except ValueError:
        return None
    return AlertEvent(kind=str(kind), alert=Alert.from_model(alert))


# Decoded once per message and shared by every subscriber of this process (and identical
# subscriptions share one execution: the types are registered with share_results).
_samples = PerMessage(_decode_sample)
_alert_events = PerMessage(_decode_alert)


async def metrics(
    info: Info, interval: float | None = None
) -> AsyncGenerator[MetricsMessage, None]:
    """The latest sample, then each new one; with `interval` (seconds), at most one per interval."""
    if interval is not None and not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise BadInput(
            f"interval must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds",
            field="interval",
        )
    monitoring = monitoring_for(info.context.services)
    last_sent = [float("-inf")]

    def due() -> bool:
        now = time.monotonic()
        if interval is not None and now - last_sent[0] < interval:
            return False
        last_sent[0] = now
        return True

    def transform(message: dict[str, Any]) -> MetricsSample | None:
        sample = _samples(message)
        return sample if sample is not None and due() else None

    async def initial() -> list[MetricsSample]:
        latest = await monitoring.latest()
        if latest is None or not due():
            return []
        return [MetricsSample.from_model(latest)]

    async for item in live(info, Channel.METRICS, transform, initial=initial):
        yield item


async def alerts(
    info: Info, min_severity: AlertSeverity = AlertSeverity.INFO
) -> AsyncGenerator[AlertMessage, None]:
    """The active alerts at or above `minSeverity`, then each alert raised or resolved."""
    floor = Severity(min_severity.value).rank
    monitoring = monitoring_for(info.context.services)

    def transform(message: dict[str, Any]) -> AlertEvent | None:
        event = _alert_events(message)
        if event is None or _RANKS[event.alert.severity] < floor:
            return None
        return event

    async def initial() -> list[AlertEvent]:
        return [
            AlertEvent(kind="alert.current", alert=Alert.from_model(a))
            for a in await monitoring.active_alerts()
            if a.severity.rank >= floor
        ]

    async for item in live(info, Channel.ALERTS, transform, initial=initial):
        yield item


__all__ = ["alerts", "metrics"]
