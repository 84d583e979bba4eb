"""`startMonitoring` and `stopMonitoring`: the cluster-wide switch in celery_system_config."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import mutation
from schema.monitoring.types import MonitoringPayload
from src.auth.roles import Role
from src.control.result import CommandResult
from src.monitoring.switch import MONITORING_ENABLED, set_monitoring_enabled


async def _switch(info: Info, enabled: bool) -> MonitoringPayload:
    actor = info.context.caller().subject
    previous = await set_monitoring_enabled(info.context.config, enabled, actor=actor)
    return MonitoringPayload.of(
        CommandResult(
            state_before={"enabled": previous},
            state_after={"enabled": enabled},
            data={"enabled": enabled},
        )
    )


@mutation(Role.ADMIN, target=MONITORING_ENABLED.name)
async def start_monitoring(info: Info) -> MonitoringPayload:
    """Turn sampling, snapshots and alerts on for the whole deployment."""
    return await _switch(info, True)


@mutation(Role.ADMIN, target=MONITORING_ENABLED.name)
async def stop_monitoring(info: Info) -> MonitoringPayload:
    """Turn sampling, snapshots and alerts off for the whole deployment."""
    return await _switch(info, False)


__all__ = ["start_monitoring", "stop_monitoring"]
