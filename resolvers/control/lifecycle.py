"""`shutdownWorker`, `shutdownSystem` and `restartSystem`: the cluster's lifecycle."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.control.types import ControlPayload, ShutdownSystemPayload
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control import lifecycle


@mutation(Role.SUPER_ADMIN, on=On(workers="hostname"))
async def shutdown_worker(info: Info, hostname: str) -> ControlPayload:
    """Shut one worker down; waits until it stops answering."""
    return ControlPayload.of(await lifecycle.shutdown_worker(info.context.control, hostname))


@mutation(Role.SUPER_ADMIN, target="*")
async def shutdown_system(
    info: Info,
    drain: bool = True,
    drain_timeout: Annotated[
        float, strawberry.argument(description="Seconds to wait for running tasks.")
    ] = 60.0,
) -> ShutdownSystemPayload:
    """Shut every worker down. With drain: stop consuming every queue, wait (bounded) for
    running tasks to finish, then shut down; each step is reported."""
    result = await lifecycle.shutdown_system(
        info.context.control, drain=drain, drain_seconds=drain_timeout
    )
    return ShutdownSystemPayload.of(result)


@mutation(Role.SUPER_ADMIN, target="*")
async def restart_system(info: Info) -> ControlPayload:
    """Restart every worker's pool; needs worker_pool_restarts on the workers."""
    return ControlPayload.of(await lifecycle.restart_system(info.context.control))


__all__ = ["restart_system", "shutdown_system", "shutdown_worker"]
