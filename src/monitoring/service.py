"""The monitoring of one process: shared state, the alert engine, the sampler and alert delivery.

Built once by the composition root (src/runtime.py), which registers the sampler and the
deliverer as leader jobs; resolvers and the /metrics route reach it through the GraphQL context
and the app state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.exceptions import RedisError

from src.bus import EventBus
from src.control.inspector import Inspector
from src.db.session import Database
from src.errors import BrokerUnavailable
from src.monitoring.alerts import Alert, AlertEngine
from src.monitoring.delivery.deliverer import Deliverer
from src.monitoring.sample import MetricsSample, SamplerIdentity, TaskTotals
from src.monitoring.sampler import HEARTBEAT_KEY, LATEST_KEY, TOTALS_KEY, Sampler
from src.monitoring.state import StateStore
from src.periodic.sample import BeatProbe
from src.queues.catalog import QueueCatalog
from src.system.config import ConfigStore
from src.system.health import HealthChecks

T = TypeVar("T")

SAMPLER_JOB = "sampler"
DELIVERY_JOB = "alert-delivery"
SAMPLER_INSPECT_THREADS = 3  # stats, active, active_queues at once; with the API's 4, under ~10


@dataclass
class Monitoring:
    state: StateStore
    db: Database
    bus: EventBus
    config: ConfigStore
    queues: QueueCatalog
    health: HealthChecks
    # The sampler's own inspect broadcasts (stats, active, active_queues every interval) go
    # through a small inspector of its own, so a background loop never shares, delays or counts
    # against the broadcasts and cache that API requests use; it tells the API's inspector
    # (`api_inspector`) which workers answered.
    inspector: Inspector
    api_inspector: Inspector
    # Beat's part of each sample (periodic entries, liveness): src/periodic, when wired.
    beat: BeatProbe | None = None
    # The leading collector's latest status (src/collector), for the sample's `collector` part.
    collector_status: Callable[[], Awaitable[dict[str, Any] | None]] | None = None
    alerts: AlertEngine = field(init=False)
    sampler: Sampler = field(init=False)
    delivery: Deliverer = field(init=False)

    def __post_init__(self) -> None:
        self.alerts = AlertEngine(self.state, self.db, self.bus)
        self.delivery = Deliverer(
            db=self.db, config=self.config, state=self.state, alerts=self.alerts
        )
        self.sampler = Sampler(self)

    async def latest(self) -> MetricsSample | None:
        raw = await _read(self.state.get(LATEST_KEY))
        return MetricsSample.model_validate_json(raw) if raw else None

    async def totals(self) -> TaskTotals | None:
        raw = await _read(self.state.get(TOTALS_KEY))
        return TaskTotals.model_validate_json(raw) if raw else None

    async def leader(self) -> SamplerIdentity | None:
        raw = await _read(self.state.get(HEARTBEAT_KEY))
        return SamplerIdentity.model_validate_json(raw) if raw else None

    async def active_alerts(self) -> list[Alert]:
        return await _read(self.alerts.active())

    async def close(self) -> None:
        self.inspector.close()
        await self.state.close()


async def _read(work: Awaitable[T]) -> T:
    """Shared state unreachable is the broker's Redis being away: say so with a stable code."""
    try:
        return await work
    except RedisError as exc:
        raise BrokerUnavailable(f"monitoring state unavailable: {exc}") from exc


__all__ = ["DELIVERY_JOB", "SAMPLER_INSPECT_THREADS", "SAMPLER_JOB", "Monitoring"]
