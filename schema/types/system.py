"""System status and information types."""

from __future__ import annotations

from enum import Enum

import strawberry

from schema.types.collector import CollectorStatus
from schema.types.events import EventBusStatus
from src.health import ComponentHealth


@strawberry.enum(
    description="Overall health: DEGRADED when a dependency is down but the API serves."
)
class HealthState(Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@strawberry.type(description="One dependency's health.")
class Component:
    name: str
    ok: bool
    detail: str
    latency_ms: float | None

    @classmethod
    def from_health(cls, health: ComponentHealth) -> Component:
        return cls(
            name=health.name, ok=health.ok, detail=health.detail, latency_ms=health.latency_ms
        )


@strawberry.type(description="Is the cluster reachable and working?")
class SystemStatus:
    health: HealthState
    broker: Component
    result_backend: Component
    database: Component
    workers_online: int
    event_bus: EventBusStatus = strawberry.field(description="This process's subscription bus.")
    collector: CollectorStatus | None = strawberry.field(
        description="The leading event collector's report; null when none reported recently."
    )
    broker_url: str = strawberry.field(description="The broker URL, password masked.")


@strawberry.type(description="What this celery-admin is; open to anyone.")
class SystemInfo:
    name: str
    version: str
    uptime_seconds: float


__all__ = ["Component", "HealthState", "SystemInfo", "SystemStatus"]
