"""Beat's liveness and its entries at a glance, as `systemStatus { beat }` and each metrics sample
(`realtimeMetrics`, `dashboard { metrics }`, the `metrics` subscription) show them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.core.mapping import build
from src.periodic.health import BeatState
from src.periodic.model import Health, Source
from src.periodic.sample import BeatSample

# The domain enums, registered with Strawberry under their GraphQL names.
PeriodicSourceEnum = strawberry.enum(
    Source,
    name="PeriodicSource",
    description="Where an entry lives: STATIC (the app's beat_schedule, read-only), REDBEAT, DJANGO.",
)
PeriodicHealthEnum = strawberry.enum(
    Health,
    name="PeriodicHealth",
    description="ON_TIME, LATE (a due run outstanding within the grace), MISSED (past it), "
    "NEVER_RAN, DISABLED.",
)
BeatStateEnum = strawberry.enum(
    BeatState,
    name="BeatState",
    description="ALIVE, LATE, DOWN (a run missed, or no beat holds the scheduler lock), UNKNOWN "
    "(nothing ran yet and no lock tells), NO_ENTRIES.",
)


@strawberry.type(description="A scheduler's own liveness sign, e.g. RedBeat's lock key.")
class BeatHeartbeat:
    source: Source
    kind: str
    key: str
    held: bool
    ttl_seconds: float | None
    renewed_seconds_ago: float | None = strawberry.field(
        description="How long ago the holder renewed it (null when the lock's timeout is unknown)."
    )
    stale: bool = strawberry.field(description="Held, but not renewed for two beat loops.")


@strawberry.type(description="One place periodic entries are read from.")
class BeatSource:
    source: Source
    where: str
    ok: bool
    error: str | None
    entries: int


@strawberry.type(description="One periodic entry in beat's status (no task data).")
class BeatEntry:
    name: str
    source: Source
    task: str
    enabled: bool
    health: Health
    last_run_at: datetime | None
    next_run_at: datetime | None
    due_at: datetime | None = strawberry.field(description="The outstanding run, if any.")
    overdue_seconds: float | None
    grace_seconds: float


@strawberry.type(description="Is a beat process alive, and are the periodic entries on time?")
class BeatStatus:
    taken_at: datetime
    state: BeatState
    reasons: list[str] = strawberry.field(description="What the state was concluded from.")
    last_run_at: datetime | None = strawberry.field(description="The latest run of any entry.")
    max_overdue_seconds: float | None
    entries_total: int
    entries_enabled: int
    late: int
    missed: int
    heartbeats: list[BeatHeartbeat]
    sources: list[BeatSource]
    entries: list[BeatEntry] = strawberry.field(description="At most 200, by name.")
    errors: list[str] = strawberry.field(description="Sources or history that could not be read.")

    @classmethod
    def from_sample(cls, sample: BeatSample) -> BeatStatus:
        return build(cls, sample)


__all__ = [
    "BeatEntry",
    "BeatHeartbeat",
    "BeatSource",
    "BeatStateEnum",
    "BeatStatus",
    "PeriodicHealthEnum",
    "PeriodicSourceEnum",
]
