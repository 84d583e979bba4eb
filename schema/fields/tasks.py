"""Task history queries."""

from __future__ import annotations

import strawberry

from resolvers import tasks as resolve
from schema.permissions import IsViewer
from schema.types.tasks import Task, TaskConnection, TaskStats


@strawberry.type
class TaskQueries:
    tasks: TaskConnection = strawberry.field(
        resolver=resolve.tasks, permission_classes=[IsViewer], description=resolve.tasks.__doc__
    )
    task: Task | None = strawberry.field(
        resolver=resolve.task, permission_classes=[IsViewer], description=resolve.task.__doc__
    )
    task_stats: TaskStats = strawberry.field(
        resolver=resolve.task_stats,
        permission_classes=[IsViewer],
        description=resolve.task_stats.__doc__,
    )


__all__ = ["TaskQueries"]
