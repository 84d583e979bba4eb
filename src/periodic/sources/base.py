"""What every schedule source offers: its entries, switching one on or off where the store can
keep that, and the store's own sign that a beat process is alive, where it has one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from src.periodic.model import Entry, Source

MAX_ENTRIES = 1000  # per source: a listing, a sample and an alert pass stay bounded


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A store's own liveness sign, e.g. RedBeat's lock key, which the running beat renews on
    every tick (and deletes when it stops cleanly)."""

    kind: str
    key: str
    held: bool
    ttl_seconds: float | None  # None: held without expiry, or not held
    # How long ago the holder last renewed it, when the lock's full timeout is known.
    renewed_seconds_ago: float | None = None
    # Held, but not renewed for longer than a live holder ever waits: the holder is stuck or gone.
    stale: bool = False


class ScheduleSource(Protocol):
    source: Source

    def where(self) -> str:
        """Where the entries are read from, secrets masked (for status displays)."""
        ...

    async def entries(self) -> list[Entry]:
        """At most MAX_ENTRIES entries, by name; raises an AppError when the store is away."""
        ...

    async def set_enabled(self, name: str, enabled: bool) -> bool | None:
        """Store `enabled` for the entry; returns its previous value, None when there is no such
        entry. Raises Unsupported where the store cannot keep it."""
        ...

    async def heartbeat(self) -> Heartbeat | None:
        """The store's liveness sign; None where it has none."""
        ...

    async def close(self) -> None: ...


__all__ = ["MAX_ENTRIES", "Heartbeat", "ScheduleSource"]
