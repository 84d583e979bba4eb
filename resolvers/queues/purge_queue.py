"""`purgeQueue(name, confirm)`: delete every waiting message of a queue."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import On, mutation
from schema.queues.types import PurgeQueuePayload
from src.auth.roles import Role
from src.queues.purge import purge_queue as purge


@mutation(Role.ADMIN, on=On(queues="name"))
async def purge_queue(info: Info, name: str, confirm: bool = False) -> PurgeQueuePayload:
    """Delete every waiting message of a queue, priority sub-queues included."""
    context = info.context
    return PurgeQueuePayload.of(await purge(context.queues, context.view, name, confirm=confirm))


__all__ = ["purge_queue"]
