"""`pingWorkers(workers)`: which of the chosen workers answer, each with its reply."""

from __future__ import annotations

from schema.control.types import ControlPayload, Workers
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control.lifecycle import ping_workers as ping


@mutation(Role.ADMIN, on=On(workers="workers"))
async def ping_workers(info: Info, workers: Workers = None) -> ControlPayload:
    """Ask the chosen workers to answer a ping; `replies` holds each worker's answer."""
    return ControlPayload.of(await ping(info.context.control, workers))


__all__ = ["ping_workers"]
