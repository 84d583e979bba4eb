"""`peekQueue(name, n)`: the first n waiting messages of a queue, without consuming them."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import On, query
from schema.queues.types import PeekedTask
from src.auth import scoped_views
from src.auth.roles import Role
from src.queues.peek import peek_queue as peek


@query(Role.ADMIN, on=On(queues="name"))
async def peek_queue(info: Info, name: str, n: int = 10) -> list[PeekedTask]:
    """The first n (1 to 100) messages waiting in a queue, next to be delivered first: task
    name, id and ETA, read without consuming them (UNSUPPORTED where the broker cannot). A
    scoped caller sees only the messages of tasks in its scope."""
    context = info.context
    found = await peek(context.queues, context.view, name, n)
    if context.task_scope is not None:
        found = scoped_views.peeked(context.task_scope, name, found)
    return [PeekedTask.of(m) for m in found]


__all__ = ["peek_queue"]
