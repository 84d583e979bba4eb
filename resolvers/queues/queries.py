"""Root fields of the queues domain: `queues` and `queue(name)`."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import On, query
from schema.queues.types import Queue
from src.auth import scoped_views
from src.auth.roles import Role


@query(Role.VIEWER)
async def queues(info: Info) -> list[Queue]:
    """Every queue the broker, the workers or the app know, with its depth. A scoped caller sees
    only the queues its bindings name, and of their consumers only its workers."""
    context = info.context
    found = await context.once("queues", lambda: context.queues.list(context.view))
    if context.task_scope is not None:
        found = scoped_views.queues(context.task_scope, found)
    return [Queue.from_info(q) for q in found]


@query(Role.VIEWER, on=On(queues="name"))
async def queue(info: Info, name: str) -> Queue | None:
    """One queue by name; null when nothing knows a queue of that name."""
    context = info.context
    found = await context.once(("queue", name), lambda: context.queues.get(context.view, name))
    if found is None:
        return None
    if context.task_scope is not None:  # the guard let the name through: only consumers left
        found = scoped_views.queues(context.task_scope, [found])[0]
    return Queue.from_info(found)


__all__ = ["queue", "queues"]
