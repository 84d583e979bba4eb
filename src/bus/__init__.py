"""Publishing live events to every API replica (subscriptions) through Redis pub/sub."""

from src.bus.base import BusHealth, Channel, EventBus, NullBus, envelope

__all__ = ["BusHealth", "Channel", "EventBus", "NullBus", "envelope"]
