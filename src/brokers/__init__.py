"""Reading queues straight from the broker: lengths, priority sub-queues, unacked messages."""

from src.brokers.base import QueueBackend, QueueDepth, queue_backend_for

__all__ = ["QueueBackend", "QueueDepth", "queue_backend_for"]
