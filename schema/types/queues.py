"""Queue types."""

from __future__ import annotations

import strawberry

from src.queues import QueueInfo


@strawberry.type(description="Messages waiting at one priority level.")
class PriorityCount:
    priority: int
    messages: int


@strawberry.type(description="A broker queue.")
class Queue:
    name: str
    length: int = strawberry.field(
        description="Messages waiting, all priority sub-queues included."
    )
    by_priority: list[PriorityCount]
    unacked: int | None = strawberry.field(
        description="Delivered to a worker but not yet acknowledged (null where the broker cannot tell)."
    )
    consumers: list[str] = strawberry.field(description="Hostnames of workers consuming it.")
    consumer_count: int

    @classmethod
    def from_info(cls, info: QueueInfo) -> Queue:
        depth = info.depth
        return cls(
            name=info.name,
            length=depth.messages,
            by_priority=[
                PriorityCount(priority=p, messages=n) for p, n in sorted(depth.by_priority.items())
            ],
            unacked=depth.unacked,
            consumers=info.consumers,
            consumer_count=(
                depth.consumer_count if depth.consumer_count is not None else len(info.consumers)
            ),
        )


__all__ = ["PriorityCount", "Queue"]
