"""Root fields of the system domain."""

from __future__ import annotations

import asyncio
import time

from schema.context import Info
from schema.types.collector import CollectorStatus
from schema.types.events import EventBusStatus
from schema.types.system import Component, HealthState, SystemInfo, SystemStatus
from src import __version__
from src.collector.collector import read_status
from src.collector.gaps import read_gaps
from src.control.inspector import InspectKind
from src.errors import AppError
from src.health import check_components
from src.redaction import mask_url


async def _collector(info: Info) -> CollectorStatus | None:
    redis = info.context.services.state_redis
    report = await read_status(redis)
    if report is None or redis is None:
        return None
    try:
        gaps = await read_gaps(redis, limit=5)
    except Exception:  # Redis went away between the two reads: the report still stands
        gaps = []
    return CollectorStatus.from_report(report, gaps)


async def system_status(info: Info) -> SystemStatus:
    services = info.context.services
    health_checks, collector = await asyncio.gather(check_components(services), _collector(info))
    components = {c.name: c for c in health_checks}
    workers_online = 0
    if components["broker"].ok:
        try:
            workers_online = len((await info.context.view.reply(InspectKind.STATS)).replies)
        except AppError:
            workers_online = 0
    if not components["broker"].ok:
        health = HealthState.UNHEALTHY
    elif all(c.ok for c in components.values()) and workers_online:
        health = HealthState.HEALTHY
    else:
        health = HealthState.DEGRADED
    return SystemStatus(
        health=health,
        broker=Component.from_health(components["broker"]),
        result_backend=Component.from_health(components["result_backend"]),
        database=Component.from_health(components["database"]),
        workers_online=workers_online,
        event_bus=EventBusStatus.from_health(services.bus.health()),
        collector=collector,
        broker_url=mask_url(services.broker_url),
    )


def system_info(info: Info) -> SystemInfo:
    return SystemInfo(
        name="celery-admin",
        version=__version__,
        uptime_seconds=round(time.time() - info.context.services.started_at, 3),
    )


__all__ = ["system_info", "system_status"]
