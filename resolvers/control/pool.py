"""`poolGrow`, `poolShrink`, `autoscale` and `poolRestart`: the chosen workers' pools."""

from __future__ import annotations

from schema.control.types import ControlPayload, Workers
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control import pool


@mutation(Role.ADMIN, on=On(workers="workers"))
async def pool_grow(info: Info, n: int = 1, workers: Workers = None) -> ControlPayload:
    """Add n processes to each chosen worker's pool."""
    return ControlPayload.of(await pool.resize_pool(info.context.control, n, workers, grow=True))


@mutation(Role.ADMIN, on=On(workers="workers"))
async def pool_shrink(info: Info, n: int = 1, workers: Workers = None) -> ControlPayload:
    """Remove n processes from each chosen worker's pool."""
    return ControlPayload.of(await pool.resize_pool(info.context.control, n, workers, grow=False))


@mutation(Role.ADMIN, on=On(workers="workers"))
async def autoscale(info: Info, max: int, min: int, workers: Workers = None) -> ControlPayload:
    """Set the autoscaler's bounds; fails unless the worker runs with --autoscale."""
    return ControlPayload.of(await pool.autoscale(info.context.control, max, min, workers))


@mutation(Role.ADMIN, on=On(workers="workers"))
async def pool_restart(info: Info, workers: Workers = None) -> ControlPayload:
    """Restart the chosen workers' pools; needs worker_pool_restarts on the workers."""
    return ControlPayload.of(await pool.pool_restart(info.context.control, workers))


__all__ = ["autoscale", "pool_grow", "pool_restart", "pool_shrink"]
