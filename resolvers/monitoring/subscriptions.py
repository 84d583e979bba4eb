"""The monitoring subscriptions: `metrics(interval)` and `alerts(minSeverity)`, on the shared
stream helper (the guard checks the caller at start; the stream ends when the token expires)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

from resolvers.core.live import live
from schema.core.context import Info
from schema.core.fields import subscription
from schema.monitoring.types import (
    Alert,
    AlertEvent,
    AlertMessage,
    MetricsMessage,
    MetricsSample,
)
from src.auth import scoped_views
from src.auth.roles import Role
from src.bus.base import Channel
from src.bus.stream import PerMessage
from src.errors import BadInput
from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert as AlertModel
from src.monitoring.sample import MetricsSample as SampleModel

MIN_INTERVAL, MAX_INTERVAL = 0.1, 3600.0


def _decode_sample(message: dict[str, Any]) -> MetricsSample | None:
    if message.get("type") != "metrics" or not isinstance(message.get("data"), dict):
        return None
    try:
        return MetricsSample.from_model(SampleModel.model_validate(message["data"]))
    except ValueError:
        return None


def _decode_alert(message: dict[str, Any]) -> tuple[AlertModel, AlertEvent] | None:
    kind = message.get("type")
    if kind not in ("alert.raised", "alert.resolved"):
        return None
    try:
        alert = AlertModel.model_validate(message.get("data"))
    except ValueError:
        return None
    return alert, AlertEvent(kind=str(kind), alert=Alert.from_model(alert))


# Decoded once per message and shared by every subscriber of this process (and identical
# subscriptions share one execution: the types are registered with share_results).
_samples = PerMessage(_decode_sample)
_alert_events = PerMessage(_decode_alert)


@subscription(Role.VIEWER, cluster_wide=True)
async def metrics(
    info: Info, interval: float | None = None
) -> AsyncGenerator[MetricsMessage, None]:
    """The latest sample, then each new one; with `interval` (seconds), at most one per interval."""
    if interval is not None and not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise BadInput(
            f"interval must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds",
            field="interval",
        )
    monitoring = info.context.monitoring
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


@subscription(Role.VIEWER)
async def alerts(
    info: Info, min_severity: Severity = Severity.INFO
) -> AsyncGenerator[AlertMessage, None]:
    """The active alerts at or above `minSeverity`, then each alert raised or resolved (for a
    scoped caller, only those about what is in its scope, as for the `alerts` query)."""
    floor = min_severity.rank
    monitoring = info.context.monitoring
    scope = info.context.task_scope

    def transform(message: dict[str, Any]) -> AlertEvent | None:
        decoded = _alert_events(message)
        if decoded is None:
            return None
        alert, event = decoded
        if event.alert.severity.rank < floor:
            return None
        if scope is not None and not scoped_views.alert_visible(scope, alert):
            return None
        return event

    async def initial() -> list[AlertEvent]:
        return [
            AlertEvent(kind="alert.current", alert=Alert.from_model(a))
            for a in scoped_views.alerts(scope, await monitoring.active_alerts())
            if a.severity.rank >= floor
        ]

    async for item in live(info, Channel.ALERTS, transform, initial=initial):
        yield item


__all__ = ["alerts", "metrics"]
