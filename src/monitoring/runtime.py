"""The monitoring parts of one process, built from its Services: shared state, the alert engine
and the sampler (registered as a leader job). `install(services)` is called once at start-up;
`monitoring_for(services)` finds them again from resolvers and routes."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError

from src.control.inspector import Inspector
from src.errors import BrokerUnavailable
from src.monitoring.alerts import Alert, AlertEngine
from src.monitoring.sample import MetricsSample, SamplerIdentity, TaskTotals
from src.monitoring.sampler import HEARTBEAT_KEY, LATEST_KEY, TOTALS_KEY, Sampler
from src.monitoring.state import DEFAULT_NAMESPACE, StateStore, state_store_for
from src.services import Services

T = TypeVar("T")

SAMPLER_JOB = "sampler"


SAMPLER_INSPECT_THREADS = 3  # stats, active, active_queues at once; with the API's 4, under ~10


@dataclass
class Monitoring:
    services: Services
    state: StateStore
    alerts: AlertEngine = field(init=False)
    sampler: Sampler = field(init=False)
    # The sampler's own inspect broadcasts (stats, active, active_queues every interval) go
    # through a small inspector of its own, so a background loop never shares, delays or counts
    # against the broadcasts and cache that API requests use; it tells the API's inspector which
    # workers answered.
    inspector: Inspector = field(init=False)

    def __post_init__(self) -> None:
        settings = self.services.settings
        self.inspector = Inspector(
            self.services.app,
            timeout=settings.inspect_timeout,
            cache_ttl=settings.inspect_cache_ttl,
            concurrency=SAMPLER_INSPECT_THREADS,
        )
        self.alerts = AlertEngine(self.state, self.services.sessions, self.services.bus)
        self.sampler = Sampler(self)

    @classmethod
    def build(cls, services: Services, *, namespace: str = DEFAULT_NAMESPACE) -> Monitoring:
        url = services.settings.pubsub_redis_url
        return cls(services, state_store_for(url, namespace=namespace))

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


_INSTALLED: dict[int, Monitoring] = {}


def install(services: Services) -> Monitoring:
    """Build this process's monitoring and register the sampler as a leader job."""
    monitoring = Monitoring.build(services)
    _INSTALLED[id(services)] = monitoring
    services.run_as_leader(SAMPLER_JOB, monitoring.sampler.run)

    async def close() -> None:
        _INSTALLED.pop(id(services), None)
        await monitoring.close()

    services.on_close(close)
    return monitoring


def monitoring_for(services: Services) -> Monitoring:
    """The process's monitoring (built on first use where `install` was not called, e.g. tools)."""
    found = _INSTALLED.get(id(services))
    if found is None:
        found = _INSTALLED[id(services)] = Monitoring.build(services)
        services.on_close(found.close)
    return found


__all__ = ["SAMPLER_JOB", "Monitoring", "install", "monitoring_for"]
