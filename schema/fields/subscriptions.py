"""Subscriptions of the live-events domain (graphql-transport-ws or graphql-ws; the token travels
in connection_init's payload)."""

from __future__ import annotations

import strawberry

from resolvers import subscriptions as resolve
from schema.permissions import IsViewer


@strawberry.type
class EventSubscriptions:
    task_events = strawberry.subscription(
        resolver=resolve.task_events,
        permission_classes=[IsViewer],
        description=resolve.task_events.__doc__,
    )
    worker_events = strawberry.subscription(
        resolver=resolve.worker_events,
        permission_classes=[IsViewer],
        description=resolve.worker_events.__doc__,
    )


__all__ = ["EventSubscriptions"]
