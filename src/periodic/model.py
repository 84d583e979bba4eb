"""What a periodic entry is, whichever store it comes from, and what we conclude about it.

An `Entry` is what a source read (name, task, schedule, the call, whether it is enabled, and the
last run where the store records one). An `EntryState` adds what the task history and the clock
say: the last run, the next run, the runs that happened and the entry's `Health`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from celery.schedules import BaseSchedule


class Source(StrEnum):
    """Where an entry lives; it decides what can be changed (see `writable`)."""

    STATIC = "static"  # the app's beat_schedule: code, read-only
    REDBEAT = "redbeat"  # RedBeat's hashes in Redis
    DJANGO = "django"  # django-celery-beat's tables

    @property
    def writable(self) -> bool:
        return self is not Source.STATIC


class ScheduleKind(StrEnum):
    INTERVAL = "interval"
    CRONTAB = "crontab"
    SOLAR = "solar"
    CLOCKED = "clocked"  # django-celery-beat: once, at a time
    RRULE = "rrule"  # RedBeat's recurrence rules
    OTHER = "other"  # a custom schedule class


class Health(StrEnum):
    ON_TIME = "on_time"  # nothing due is outstanding (beyond a few seconds of slack)
    LATE = "late"  # a due run is outstanding, within the grace
    MISSED = "missed"  # a due run is outstanding past the grace
    NEVER_RAN = "never_ran"  # no run known anywhere, and no due time to hold it to
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule in words ("every 10 seconds"), in its own form (the fields its store keeps),
    and as the Celery object that computes its run times (None when it cannot be built here)."""

    kind: ScheduleKind
    words: str
    form: dict[str, Any]
    celery: BaseSchedule | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    task: str
    source: Source
    schedule: Schedule
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    # apply_async options: queue, exchange, routing_key, priority, expires, headers, ...
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    # What the store records (None where it records nothing, e.g. a static beat_schedule).
    last_run_at: datetime | None = None
    total_run_count: int | None = None
    # The store's own next due time (RedBeat's sorted-set score), when it keeps one.
    due_at: datetime | None = None
    description: str | None = None

    @property
    def queue(self) -> str | None:
        queue = self.options.get("queue")
        if queue is None:
            return None
        return str(getattr(queue, "name", queue))


@dataclass(frozen=True, slots=True)
class Run:
    """One task in the history that matched an entry (same task name and arguments)."""

    task_id: str
    state: str
    seen_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    runtime: float | None
    worker: str | None
    args_matched: bool  # False: the recorded arguments could not be read, matched by name alone


@dataclass(frozen=True, slots=True)
class EntryState:
    entry: Entry
    health: Health
    last_run_at: datetime | None
    next_run_at: datetime | None
    # The run that should have happened by now and has not (None: nothing outstanding).
    due_at: datetime | None
    overdue_seconds: float | None
    grace_seconds: float
    runs: list[Run] = field(default_factory=list)


__all__ = ["Entry", "EntryState", "Health", "Run", "Schedule", "ScheduleKind", "Source"]
