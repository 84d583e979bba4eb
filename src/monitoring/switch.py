"""Whether monitoring (sampling, snapshots, alerts) runs: cluster state in the database, so every
replica and the leader agree, and it survives restarts."""

from __future__ import annotations

from src.system.config import ConfigStore, declare

MONITORING_ENABLED = declare(
    "monitoring.enabled",
    bool,
    True,
    "Whether the sampler publishes metrics, writes snapshots and evaluates alerts.",
)


async def monitoring_enabled(config: ConfigStore) -> bool:
    return bool(await config.get(MONITORING_ENABLED.name))


async def set_monitoring_enabled(config: ConfigStore, enabled: bool, *, actor: str | None) -> bool:
    """Flip the switch; returns the previous value."""
    previous = await monitoring_enabled(config)
    await config.set(MONITORING_ENABLED.name, enabled, actor=actor)
    return previous


__all__ = ["MONITORING_ENABLED", "monitoring_enabled", "set_monitoring_enabled"]
