"""`addConsumer` and `cancelConsumer`: which queues the chosen workers consume."""

from __future__ import annotations

from schema.control.types import ControlPayload, Workers
from schema.core.context import Info
from schema.core.fields import On, mutation
from src.auth.roles import Role
from src.control import pool


@mutation(Role.ADMIN, on=On(queues="queue", workers="workers"))
async def add_consumer(info: Info, queue: str, workers: Workers = None) -> ControlPayload:
    """Make the chosen workers consume a queue."""
    return ControlPayload.of(await pool.add_consumer(info.context.control, queue, workers))


@mutation(Role.ADMIN, on=On(queues="queue", workers="workers"))
async def cancel_consumer(info: Info, queue: str, workers: Workers = None) -> ControlPayload:
    """Make the chosen workers stop consuming a queue."""
    return ControlPayload.of(await pool.cancel_consumer(info.context.control, queue, workers))


__all__ = ["add_consumer", "cancel_consumer"]
