"""The hand-off from the sampler to the delivery leader: a bounded hash in the shared state.

The sampler only stores what changed (`push`: one HSET per notification, keyed by its id, after
alert evaluation), so it never waits on a receiver or on the database. The delivery job takes the
notifications (`take`), stores a delivery row per sink, and only then removes them (`ack`); a
leader that dies in between leaves them for the next, whose insert of the same rows is a no-op.
The hash holds at most `MAX_PENDING` notifications: beyond that (nobody delivering for a long
time) new ones are dropped and logged rather than growing Redis without bound.
"""

from __future__ import annotations

import logging

from src.monitoring.alerts import AlertChange
from src.monitoring.delivery.notification import Notification
from src.monitoring.state import StateStore

log = logging.getLogger(__name__)

OUTBOX_KEY = "alerts:outbox"
MAX_PENDING = 10_000


class Outbox:
    def __init__(self, state: StateStore, *, max_pending: int = MAX_PENDING) -> None:
        self.state = state
        self.max_pending = max_pending

    async def push(self, changes: list[AlertChange]) -> int:
        """Store a notification per change; returns how many were stored."""
        if not changes:
            return 0
        room = self.max_pending - await self.state.hlen(OUTBOX_KEY)
        notifications = [Notification.of(c) for c in changes]
        kept, dropped = notifications[: max(0, room)], notifications[max(0, room) :]
        for notification in dropped:
            log.error(
                "alert outbox full (%d): notification %s of %s dropped",
                self.max_pending,
                notification.event,
                notification.alert.key,
            )
        await self.state.hset_many(OUTBOX_KEY, {n.id: n.model_dump_json() for n in kept})
        return len(kept)

    async def take(self) -> list[Notification]:
        """What is waiting, oldest first (not removed: see `ack`)."""
        raw = await self.state.hgetall(OUTBOX_KEY)
        found = []
        for key, value in raw.items():
            try:
                found.append(Notification.model_validate_json(value))
            except ValueError:
                log.error("unreadable notification %s in the alert outbox, dropped", key)
                await self.state.hdel(OUTBOX_KEY, key)
        return sorted(found, key=lambda n: (n.created_at, n.event != "firing"))

    async def ack(self, ids: list[str]) -> None:
        await self.state.hdel(OUTBOX_KEY, *ids)


__all__ = ["MAX_PENDING", "OUTBOX_KEY", "Outbox"]
