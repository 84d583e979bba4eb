"""Root fields of the system domain: `systemStatus`, `systemInfo`, `systemConfiguration`."""

from __future__ import annotations

import asyncio
from typing import cast

from strawberry.scalars import JSON

from schema.core.context import Info
from schema.core.fields import public_query, query
from schema.core.mapping import build, build_all
from schema.streams.types import EventBusStatus
from schema.system.collector import CollectorStatus
from schema.system.types import (
    Component,
    ConfigEntry,
    HealthState,
    OidcSignIn,
    SystemConfiguration,
    SystemInfo,
    SystemStatus,
)
from src import __version__
from src.auth.roles import Role


@query(Role.VIEWER)
async def system_status(info: Info) -> SystemStatus:
    """Broker, result backend, database and workers: is the cluster healthy? For a scoped
    caller `workersOnline` counts its workers only, and `collector` (cluster-wide counts) is
    null."""
    # Answers from cached and background state: it never waits for an inspect broadcast.
    context = info.context
    health_checks, collector = await asyncio.gather(
        context.health.check(), context.system.collector()
    )
    components = {c.name: build(Component, c) for c in health_checks}
    # from background state: a broadcast waits up to its timeout when a worker is silent
    online = context.view.online_now() if components["broker"].ok else []
    scope = context.task_scope
    if scope is not None:
        online, collector = [h for h in online if scope.allows_worker(h)], None
    workers_online = len(online)
    return SystemStatus(
        health=HealthState.of(health_checks, workers_online),
        broker=components["broker"],
        result_backend=components["result_backend"],
        database=components["database"],
        workers_online=workers_online,
        event_bus=build(EventBusStatus, context.bus.health()),
        collector=CollectorStatus.from_report(collector.status, collector.gaps)
        if collector
        else None,
        broker_url=context.system.broker_url(),
        degraded=context.degraded(),
    )


@public_query
def system_info(info: Info) -> SystemInfo:
    """Name, version, uptime and how to sign in at the identity provider; needs no token."""
    client = info.context.public_client
    return SystemInfo(
        name="celery-admin",
        version=__version__,
        uptime_seconds=info.context.system.uptime_seconds(),
        oidc=build(OidcSignIn, client, scopes=list(client.scopes)) if client else None,
    )


@query(Role.ADMIN, cluster_wide=True)
async def system_configuration(info: Info) -> SystemConfiguration:
    """Celery's configuration with secrets masked, and the editable settings."""
    context = info.context
    return SystemConfiguration(
        celery=cast(JSON, context.system.celery_conf()),
        entries=build_all(ConfigEntry, await context.config.all()),
    )


__all__ = ["system_configuration", "system_info", "system_status"]
