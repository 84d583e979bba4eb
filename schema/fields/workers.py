"""Worker queries."""

from __future__ import annotations

import strawberry

from resolvers import workers as resolve
from schema.permissions import IsViewer
from schema.types.workers import Worker


@strawberry.type
class WorkerQueries:
    workers: list[Worker] = strawberry.field(
        resolver=resolve.workers, permission_classes=[IsViewer], description=resolve.workers.__doc__
    )
    worker: Worker | None = strawberry.field(
        resolver=resolve.worker, permission_classes=[IsViewer], description=resolve.worker.__doc__
    )


__all__ = ["WorkerQueries"]
