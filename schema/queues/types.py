"""Queue types: a broker queue, and what purging one produced."""

from __future__ import annotations

from typing import Any, Self

import strawberry

from schema.core.payloads import MutationPayload
from src.brokers import PeekedMessage
from src.control.result import CommandResult
from src.queues.catalog import QueueInfo


@strawberry.type(description="Messages waiting at one priority level.")
class PriorityCount:
    priority: int
    messages: int


@strawberry.type(description="A consumer of a queue as the broker sees it (RabbitMQ).")
class QueueConsumer:
    tag: str
    prefetch: int = strawberry.field(description="Prefetch count (0: unlimited).")
    ack_required: bool
    connection: str | None = strawberry.field(description="The consumer's connection.")


@strawberry.type(description="Messages per second over the broker's last sampling interval.")
class QueueRates:
    publish: float
    deliver: float
    ack: float


@strawberry.type(description="A waiting message, read without consuming it.")
class PeekedTask:
    task_id: str | None
    task_name: str | None
    eta: str | None = strawberry.field(description="ISO 8601 as Celery wrote it, if any.")
    priority: int | None
    redelivered: bool | None = strawberry.field(
        description="The broker flagged it redelivered (null where the broker does not say)."
    )

    @classmethod
    def of(cls, message: PeekedMessage) -> PeekedTask:
        return cls(
            task_id=message.task_id,
            task_name=message.task_name,
            eta=message.eta,
            priority=message.priority,
            redelivered=message.redelivered,
        )


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
    broker_consumers: list[QueueConsumer] | None = strawberry.field(
        description="Consumers and their prefetch as the broker reports them (null where it cannot)."
    )
    rates: QueueRates | None = strawberry.field(
        description="Publish, deliver and ack rates (null where the broker does not count them)."
    )
    oldest_published_at: float | None = strawberry.field(
        description="Epoch seconds the head message was published, when the broker knows it."
    )

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
            broker_consumers=(
                None
                if depth.broker_consumers is None
                else [
                    QueueConsumer(
                        tag=c.tag,
                        prefetch=c.prefetch,
                        ack_required=c.ack_required,
                        connection=c.connection,
                    )
                    for c in depth.broker_consumers
                ]
            ),
            rates=(
                None
                if depth.rates is None
                else QueueRates(
                    publish=depth.rates.publish, deliver=depth.rates.deliver, ack=depth.rates.ack
                )
            ),
            oldest_published_at=depth.oldest_published_at,
        )


@strawberry.type(description="A purged queue.")
class PurgeQueuePayload(MutationPayload):
    queue: str | None = None
    purged: int | None = strawberry.field(
        default=None, description="Messages removed, every priority sub-queue included."
    )

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        return super().of(
            result, queue=result.data.get("queue"), purged=result.data.get("purged"), **produced
        )


__all__ = [
    "PeekedTask",
    "PriorityCount",
    "PurgeQueuePayload",
    "Queue",
    "QueueConsumer",
    "QueueRates",
]
