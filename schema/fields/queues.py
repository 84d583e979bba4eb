"""Queue queries."""

from __future__ import annotations

import strawberry

from resolvers import queues as resolve
from schema.permissions import IsViewer
from schema.types.queues import Queue


@strawberry.type
class QueueQueries:
    queues: list[Queue] = strawberry.field(
        resolver=resolve.queues, permission_classes=[IsViewer], description=resolve.queues.__doc__
    )
    queue: Queue | None = strawberry.field(
        resolver=resolve.queue, permission_classes=[IsViewer], description=resolve.queue.__doc__
    )


__all__ = ["QueueQueries"]
