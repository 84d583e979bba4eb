"""Beat's part of a metrics sample: plain pydantic models, so the same object is published on the
bus, kept in Redis with the latest sample, read by the `periodic_missed` alert rule and mapped to
GraphQL (`systemStatus { beat }`, `realtimeMetrics { beat }`, `dashboard { metrics { beat } }`).

No task arguments here: a sample is shared with every viewer alike."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

MAX_SAMPLED_ENTRIES = 200


class EntrySample(BaseModel):
    name: str
    source: str
    task: str
    queue: str | None = None  # where its task goes (for scoped callers: src/auth/scoped_views.py)
    enabled: bool
    health: str
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None
    due_at: datetime | None = None  # the outstanding run, if any
    overdue_seconds: float | None = None
    grace_seconds: float


class HeartbeatSample(BaseModel):
    source: str
    kind: str
    key: str
    held: bool
    ttl_seconds: float | None = None
    renewed_seconds_ago: float | None = None
    stale: bool = False


class SourceSample(BaseModel):
    source: str
    where: str
    ok: bool
    error: str | None = None
    entries: int = 0


class BeatSample(BaseModel):
    taken_at: datetime
    state: str  # src.periodic.health.BeatState
    reasons: list[str] = Field(default_factory=list)
    last_run_at: datetime | None = None
    max_overdue_seconds: float | None = None
    entries_total: int = 0
    entries_enabled: int = 0
    late: int = 0
    missed: int = 0
    heartbeats: list[HeartbeatSample] = Field(default_factory=list)
    sources: list[SourceSample] = Field(default_factory=list)
    entries: list[EntrySample] = Field(default_factory=list)  # at most MAX_SAMPLED_ENTRIES
    errors: list[str] = Field(default_factory=list)  # sources or history that could not be read


class BeatProbe(Protocol):
    """What the monitoring sampler asks for beat's part of each sample."""

    async def beat_sample(self) -> BeatSample: ...


__all__ = [
    "MAX_SAMPLED_ENTRIES",
    "BeatProbe",
    "BeatSample",
    "EntrySample",
    "HeartbeatSample",
    "SourceSample",
]
