"""Publishing live events to every API replica (subscriptions) through Redis pub/sub."""

from src.bus.base import Channel, EventBus, NullBus, envelope

__all__ = ["Channel", "EventBus", "NullBus", "envelope"]
