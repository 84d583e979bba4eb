"""Reading queues straight from the broker: lengths, priority sub-queues, unacked messages."""

from src.brokers.base import (
    PeekedMessage,
    QueueBackend,
    QueueDepth,
    RemovalReport,
    queue_backend_for,
)

__all__ = ["PeekedMessage", "QueueBackend", "QueueDepth", "RemovalReport", "queue_backend_for"]
