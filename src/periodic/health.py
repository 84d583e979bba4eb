"""An entry's health and a beat's liveness, from the entry, its runs and the clock.

The last run is the later of what the store records and the newest run in the task history. The
next run is what the schedule says follows it (beat's own arithmetic, src/periodic/schedules.py);
an entry that never ran is held to the store's own due time where it keeps one (RedBeat's score,
a clocked django entry), else it is NEVER_RAN. A next run in the past is outstanding: within
LATE_SLACK (a run takes a moment to reach the history) the entry is ON_TIME, then LATE, and past
its grace MISSED.

A beat is DOWN when an entry MISSED a run or a scheduler lock says no beat holds it (or its holder
stopped renewing it), LATE when runs are late, ALIVE when a lock is held or an entry ran on time,
UNKNOWN when nothing has run yet and no lock tells, NO_ENTRIES without enabled entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from celery import Celery

from src.periodic.model import Entry, EntryState, Health, Run, ScheduleKind, Source
from src.periodic.schedules import next_after
from src.periodic.sources.base import Heartbeat

LATE_SLACK = 5.0
ABSOLUTE = frozenset({ScheduleKind.CRONTAB, ScheduleKind.SOLAR})


class BeatState(StrEnum):
    ALIVE = "alive"
    LATE = "late"
    DOWN = "down"
    UNKNOWN = "unknown"
    NO_ENTRIES = "no_entries"


@dataclass(frozen=True, slots=True)
class SourceHeartbeat:
    source: Source
    heartbeat: Heartbeat


@dataclass(frozen=True, slots=True)
class Liveness:
    state: BeatState
    reasons: list[str]
    last_run_at: datetime | None
    max_overdue_seconds: float | None
    late: int
    missed: int
    heartbeats: list[SourceHeartbeat] = field(default_factory=list)


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def assess(
    entry: Entry, runs: list[Run], now: datetime, grace: float, app: Celery | None = None
) -> EntryState:
    newest = runs[0] if runs else None
    last = _latest(entry.last_run_at, (newest.sent_at or newest.seen_at) if newest else None)
    if not entry.enabled:
        return EntryState(entry, Health.DISABLED, last, None, None, None, grace, runs)
    sched = entry.schedule
    due = entry.due_at
    if last is not None:
        due = next_after(sched.celery, last, now, app) or due
    if due is None:
        upcoming = None
        if last is None and sched.kind in ABSOLUTE:  # its fire times do not depend on a run
            upcoming = next_after(sched.celery, now, now, app)
        health = Health.NEVER_RAN if last is None else Health.ON_TIME
        return EntryState(entry, health, last, upcoming, None, None, grace, runs)
    overdue = (now - due).total_seconds()
    if overdue > grace:
        health = Health.MISSED
    elif overdue > min(LATE_SLACK, grace):
        health = Health.LATE
    else:
        health = Health.ON_TIME
    outstanding = overdue > 0
    return EntryState(
        entry,
        health,
        last,
        due,
        due if outstanding else None,
        round(overdue, 3) if outstanding else None,
        grace,
        runs,
    )


def _names(states: list[EntryState]) -> str:
    shown = ", ".join(s.entry.name for s in states[:5])
    return shown + (f" and {len(states) - 5} more" if len(states) > 5 else "")


def liveness(states: list[EntryState], heartbeats: list[SourceHeartbeat]) -> Liveness:
    enabled = [s for s in states if s.entry.enabled]
    missed = [s for s in enabled if s.health is Health.MISSED]
    late = [s for s in enabled if s.health is Health.LATE]
    overdue = [s.overdue_seconds for s in enabled if s.overdue_seconds is not None]
    reasons: list[str] = []
    with_entries = {s.entry.source for s in enabled}
    for found in heartbeats:
        hb = found.heartbeat
        if found.source not in with_entries:
            continue
        if not hb.held:
            reasons.append(f"{found.source.value}: lock {hb.key} is not held (no beat holds it)")
        elif hb.stale:
            reasons.append(
                f"{found.source.value}: lock {hb.key} not renewed for {hb.renewed_seconds_ago:g}s"
            )
    locks_down = bool(reasons)
    locks_up = any(
        h.heartbeat.held and not h.heartbeat.stale for h in heartbeats if h.source in with_entries
    )
    if missed:
        reasons.insert(0, f"{len(missed)} entries missed a run: {_names(missed)}")
        state = BeatState.DOWN
    elif locks_down:
        state = BeatState.DOWN
    elif late:
        reasons.append(f"{len(late)} entries are late: {_names(late)}")
        state = BeatState.LATE
    elif locks_up:
        reasons.append("a scheduler lock is held and renewed")
        state = BeatState.ALIVE
    elif any(s.health is Health.ON_TIME and s.last_run_at is not None for s in enabled):
        reasons.append("entries run on time")
        state = BeatState.ALIVE
    elif enabled:
        reasons.append("no entry has run yet and no scheduler lock tells")
        state = BeatState.UNKNOWN
    else:
        reasons.append("no enabled periodic entries")
        state = BeatState.NO_ENTRIES
    return Liveness(
        state=state,
        reasons=reasons,
        last_run_at=_latest(*(s.last_run_at for s in states)),
        max_overdue_seconds=max(overdue) if overdue else None,
        late=len(late),
        missed=len(missed),
        heartbeats=list(heartbeats),
    )


__all__ = ["LATE_SLACK", "BeatState", "Liveness", "SourceHeartbeat", "assess", "liveness"]
