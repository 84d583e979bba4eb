"""System types: status and information, the editable configuration and its payload."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Self

import strawberry
from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.mapping import build
from schema.core.payloads import MutationPayload
from schema.periodic.beat import BeatStatus
from schema.streams.types import EventBusStatus
from schema.system.collector import CollectorStatus
from schema.system.doctor import Advisory
from src.auth import scoped_views
from src.control.result import CommandResult
from src.system.health import ComponentHealth


@strawberry.enum(
    description="Overall health: DEGRADED when a dependency is down but the API serves."
)
class HealthState(Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @classmethod
    def of(cls, components: list[ComponentHealth], workers_online: int) -> HealthState:
        """UNHEALTHY without a broker; HEALTHY when everything answers and a worker is online."""
        by_name = {c.name: c for c in components}
        if not by_name["broker"].ok:
            return cls.UNHEALTHY
        if all(c.ok for c in components) and workers_online:
            return cls.HEALTHY
        return cls.DEGRADED


@strawberry.type(description="One dependency's health.")
class Component:
    name: str
    ok: bool
    detail: str
    latency_ms: float | None


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
    degraded: list[str] = strawberry.field(
        description="What this process does in a lesser way right now, in words (e.g. rate limits "
        "counted in this process only while Redis is away); empty when all works as configured. "
        "Serving, not failing: the same list as REST health's `degraded`."
    )

    @strawberry.field(
        description="Is a beat process alive, and are the periodic entries on time (read now)?"
    )
    async def beat(self, info: Info) -> BeatStatus:
        sample = await info.context.periodic.beat_sample()
        scope = info.context.task_scope
        return BeatStatus.from_sample(sample if scope is None else scoped_views.beat(scope, sample))

    @strawberry.field(
        description="The cluster doctor: configuration that loses or stalls work, most severe "
        "first (checked at most every few seconds; `celery-admin doctor` is the same report)."
    )
    async def advisories(self, info: Info) -> list[Advisory]:
        if info.context.task_scope is not None:
            return []  # findings about the whole cluster's configuration: not for scoped callers
        report = await info.context.doctor.report()
        return [Advisory.of(a) for a in report.advisories]


@strawberry.type(
    description="Signing in at the identity provider from a browser: OAuth 2.0 authorization "
    "code with PKCE (S256), a public client (no secret). The endpoints are in the issuer's "
    "discovery document."
)
class OidcSignIn:
    issuer: str = strawberry.field(description="OIDC_ISSUER: where the discovery document is.")
    client_id: str = strawberry.field(description="OIDC_CLIENT_ID: the public client.")
    scopes: list[str] = strawberry.field(description="OIDC_SCOPES: the scopes to ask for.")
    audience: str | None = strawberry.field(
        description="OIDC_AUDIENCE: sent as `audience` (Auth0 issues JWT access tokens for it)."
    )


@strawberry.type(description="What this celery-admin is; open to anyone.")
class SystemInfo:
    name: str
    version: str
    uptime_seconds: float
    oidc: OidcSignIn | None = strawberry.field(
        default=None,
        description="How to sign in at the identity provider; null when single sign-on for "
        "browsers is not configured (OIDC_ISSUER and OIDC_CLIENT_ID).",
    )


@strawberry.type(description="An operator-editable setting in celery_system_config.")
class ConfigEntry:
    key: str
    value: JSON
    version: int = strawberry.field(description="0 while the default was never changed.")
    updated_by: str | None
    updated_at: datetime | None
    description: str


@strawberry.type(description="A changed setting.")
class SystemConfigPayload(MutationPayload):
    entry: ConfigEntry | None = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        return super().of(result, entry=build(ConfigEntry, result.data["entry"]), **produced)


@strawberry.type(description="Celery's configuration (secrets masked) and the editable settings.")
class SystemConfiguration:
    celery: JSON
    entries: list[ConfigEntry]


__all__ = [
    "Component",
    "ConfigEntry",
    "HealthState",
    "OidcSignIn",
    "SystemConfigPayload",
    "SystemConfiguration",
    "SystemInfo",
    "SystemStatus",
]
