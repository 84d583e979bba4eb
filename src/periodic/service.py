"""The periodic-tasks service: every source's entries in one listing, joined with the task history,
each entry's health, beat's liveness, and the two actions (run an entry now, switch it on or off).

Sources are read concurrently, each bounded (SOURCE_TIMEOUT); one that fails is reported in the
listing's `sources` and `errors` while the others still answer. An entry name found in several
sources is shown once, from the store beat really reads: RedBeat and django-celery-beat copy the
app's `beat_schedule` into their own store, so theirs wins over the static one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from celery.beat import BeatLazyFunc

from src.audit.service import jsonable
from src.config import Settings
from src.control.result import CommandResult
from src.db.session import Database
from src.errors import AppError, BrokerUnavailable, ErrorCode, NotFound
from src.periodic.health import Liveness, SourceHeartbeat, assess, liveness
from src.periodic.history import recent_rows, runs_of
from src.periodic.model import Entry, EntryState, Source
from src.periodic.sample import (
    MAX_SAMPLED_ENTRIES,
    BeatSample,
    EntrySample,
    HeartbeatSample,
    SourceSample,
)
from src.periodic.settings import graces
from src.periodic.sources.base import ScheduleSource
from src.periodic.sources.django_beat import DjangoBeatSource
from src.periodic.sources.redbeat import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_PREFIX,
    RedBeatSource,
    default_lock_key,
)
from src.periodic.sources.static import StaticSource
from src.system.config import ConfigStore

SOURCE_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0
_PRIORITY = {Source.REDBEAT: 0, Source.DJANGO: 1, Source.STATIC: 2}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: Source
    where: str
    ok: bool
    error: str | None
    entries: int
    code: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    entries: list[Entry]
    sources: list[SourceStatus]
    heartbeats: list[SourceHeartbeat]

    @property
    def errors(self) -> list[str]:
        return [f"{s.source.value}: {s.error}" for s in self.sources if s.error]


@dataclass(frozen=True, slots=True)
class Overview:
    taken_at: datetime
    states: list[EntryState]
    sources: list[SourceStatus]
    liveness: Liveness
    errors: list[str]


def _code(exc: BaseException) -> ErrorCode:
    if isinstance(exc, AppError):
        return exc.code
    return ErrorCode.TIMEOUT if isinstance(exc, TimeoutError) else ErrorCode.INTERNAL


def _message(exc: BaseException) -> str:
    if isinstance(exc, AppError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return f"no answer within {SOURCE_TIMEOUT:g}s"
    return f"{type(exc).__name__}: {exc}"[:300]


def _call(values: Sequence[Any]) -> list[Any]:
    """Beat's evaluation of an entry's arguments (BeatLazyFunc values are called at send time)."""
    return [v() if isinstance(v, BeatLazyFunc) else v for v in values]


class Periodic:
    def __init__(
        self,
        *,
        app: Celery,
        db: Database,
        config: ConfigStore,
        sources: list[ScheduleSource],
        executor: Executor,
    ) -> None:
        self.app = app
        self.db = db
        self.config = config
        self.sources = sources
        self.executor = executor

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        app: Celery,
        db: Database,
        config: ConfigStore,
        executor: Executor,
    ) -> Periodic:
        """The sources this deployment has: the app's beat_schedule always; RedBeat when its Redis
        is known (REDBEAT_REDIS_URL, else CELERY_APP's redbeat settings); django-celery-beat when
        DJANGO_BEAT_DATABASE_URL is set."""
        sources: list[ScheduleSource] = [StaticSource(app)]
        conf = app.conf
        redbeat_url = settings.redbeat_redis_url or conf.get("redbeat_redis_url")
        if not redbeat_url and "redbeat" in str(conf.get("beat_scheduler") or "").lower():
            redbeat_url = str(conf.broker_url)  # what RedBeat 2.x falls back to
        if redbeat_url:
            prefix = settings.redbeat_key_prefix or conf.get("redbeat_key_prefix") or DEFAULT_PREFIX
            loop = float(conf.get("beat_max_loop_interval") or 0)
            sources.append(
                RedBeatSource(
                    str(redbeat_url),
                    prefix=prefix,
                    lock_key=conf.get("redbeat_lock_key", default_lock_key(prefix)),
                    lock_timeout=float(
                        conf.get("redbeat_lock_timeout") or (loop * 5 if loop else 0)
                    )
                    or DEFAULT_LOCK_TIMEOUT,
                    app=app,
                )
            )
        if settings.django_beat_database_url:
            sources.append(DjangoBeatSource(settings.django_beat_database_url, app=app))
        return cls(app=app, db=db, config=config, sources=sources, executor=executor)

    # -- reading ---------------------------------------------------------------------------

    async def _read(
        self, source: ScheduleSource
    ) -> tuple[list[Entry], SourceStatus, SourceHeartbeat | None]:
        async def both() -> tuple[list[Entry], Any]:
            return await asyncio.gather(source.entries(), source.heartbeat())

        try:
            entries, heartbeat = await asyncio.wait_for(both(), SOURCE_TIMEOUT)
        except Exception as exc:
            failed = SourceStatus(
                source.source, source.where(), False, _message(exc), 0, _code(exc)
            )
            return [], failed, None
        status = SourceStatus(source.source, source.where(), True, None, len(entries))
        return entries, status, SourceHeartbeat(source.source, heartbeat) if heartbeat else None

    async def read(self, only: set[Source] | None = None) -> Reading:
        """Entries of every source (or of the sources in `only`), one per name."""
        chosen = [s for s in self.sources if only is None or s.source in only]
        results = await asyncio.gather(*(self._read(s) for s in chosen))
        by_name: dict[str, Entry] = {}
        for entries, _status, _hb in sorted(results, key=lambda r: _PRIORITY[r[1].source]):
            for entry in entries:
                by_name.setdefault(entry.name, entry)
        return Reading(
            entries=[by_name[n] for n in sorted(by_name)],
            sources=[status for _e, status, _hb in results],
            heartbeats=[hb for _e, _s, hb in results if hb is not None],
        )

    async def overview(
        self, *, now: datetime | None = None, only: set[Source] | None = None
    ) -> Overview:
        now = now or datetime.now(UTC)
        reading = await self.read(only)
        errors = reading.errors
        try:
            rows = await recent_rows(self.db, (e.task for e in reading.entries), now)
        except AppError as exc:
            rows = {}
            errors.append(f"task history: {exc.message}")
        try:
            default, by_entry = await graces(self.config)
        except AppError:
            default, by_entry = 60.0, {}
        states = [
            assess(
                entry,
                runs_of(entry, rows.get(entry.task, [])),
                now,
                by_entry.get(entry.name, default),
                self.app,
            )
            for entry in reading.entries
        ]
        return Overview(
            taken_at=now,
            states=states,
            sources=reading.sources,
            liveness=liveness(states, reading.heartbeats),
            errors=errors,
        )

    async def beat_sample(self) -> BeatSample:
        found = await self.overview()
        live = found.liveness
        return BeatSample(
            taken_at=found.taken_at,
            state=live.state.value,
            reasons=live.reasons,
            last_run_at=live.last_run_at,
            max_overdue_seconds=live.max_overdue_seconds,
            entries_total=len(found.states),
            entries_enabled=sum(1 for s in found.states if s.entry.enabled),
            late=live.late,
            missed=live.missed,
            heartbeats=[
                HeartbeatSample(
                    source=h.source.value,
                    kind=h.heartbeat.kind,
                    key=h.heartbeat.key,
                    held=h.heartbeat.held,
                    ttl_seconds=h.heartbeat.ttl_seconds,
                    renewed_seconds_ago=h.heartbeat.renewed_seconds_ago,
                    stale=h.heartbeat.stale,
                )
                for h in live.heartbeats
            ],
            sources=[
                SourceSample(
                    source=s.source.value, where=s.where, ok=s.ok, error=s.error, entries=s.entries
                )
                for s in found.sources
            ],
            entries=[
                EntrySample(
                    name=s.entry.name,
                    source=s.entry.source.value,
                    task=s.entry.task,
                    queue=self.queue_of(s.entry),
                    enabled=s.entry.enabled,
                    health=s.health.value,
                    last_run_at=s.last_run_at,
                    next_run_at=s.next_run_at,
                    due_at=s.due_at,
                    overdue_seconds=s.overdue_seconds,
                    grace_seconds=s.grace_seconds,
                )
                for s in found.states[:MAX_SAMPLED_ENTRIES]
            ],
            errors=found.errors,
        )

    def queue_of(self, entry: Entry) -> str | None:
        """The queue the entry's task goes to: its own `queue` option, else where the app's
        routes send the task (None when routing fails: a scoped caller then cannot see it)."""
        if entry.queue is not None:
            return entry.queue
        try:
            routed = self.app.amqp.router.route(dict(entry.options), entry.task)
        except Exception:
            return None
        queue = routed.get("queue")
        return None if queue is None else str(getattr(queue, "name", queue))

    async def target(self, name: str) -> tuple[str, str | None] | None:
        """The task name and queue of the entry called `name` (None: no source has it), for
        deciding a scoped caller's access (src/auth/access.py)."""
        entry = next((e for e in (await self.read()).entries if e.name == name), None)
        return None if entry is None else (entry.task, self.queue_of(entry))

    async def find(self, name: str) -> tuple[Entry, ScheduleSource]:
        reading = await self.read()
        entry = next((e for e in reading.entries if e.name == name), None)
        if entry is None:
            unread = reading.errors
            detail = f" (unreadable: {'; '.join(unread)})" if unread else ""
            raise NotFound(f"unknown periodic task {name!r}{detail}", field="name")
        source = next(s for s in self.sources if s.source is entry.source)
        return entry, source

    # -- acting ------------------------------------------------------------------------------

    async def run_now(self, name: str) -> CommandResult:
        """Send the entry's task as beat would: its exact args, kwargs and options (queue,
        exchange, routing key, priority, expires, headers)."""
        entry, _source = await self.find(name)
        args = _call(entry.args)
        kwargs = dict(zip(entry.kwargs, _call(list(entry.kwargs.values())), strict=True))
        options = dict(entry.options)
        loop = asyncio.get_running_loop()

        def send() -> str:
            return str(self.app.send_task(entry.task, args=args, kwargs=kwargs, **options).id)

        try:
            task_id = await asyncio.wait_for(
                loop.run_in_executor(self.executor, send), SEND_TIMEOUT
            )
        except Exception as exc:
            raise BrokerUnavailable(f"could not send {entry.task}: {_message(exc)}") from exc
        return CommandResult(
            state_before={
                "entry": entry.name,
                "source": entry.source.value,
                "task": entry.task,
                "last_run_at": entry.last_run_at,
            },
            observed={"task_id": task_id},
            data={
                "task_id": task_id,
                "name": entry.name,
                "task": entry.task,
                "queue": entry.queue,
                "options": jsonable(options),
            },
        )

    async def set_enabled(self, name: str, enabled: bool) -> CommandResult:
        """Store `enabled` where the entry lives (UNSUPPORTED for the app's beat_schedule), then
        read the entry back: the state after is what the store now holds."""
        entry, source = await self.find(name)
        before = await source.set_enabled(name, enabled)
        if before is None:
            raise NotFound(
                f"periodic task {name!r} is gone from {entry.source.value}", field="name"
            )
        after = next((e for e in await source.entries() if e.name == name), None)
        now_enabled = after.enabled if after is not None else None
        return CommandResult(
            state_before={"name": name, "source": entry.source.value, "enabled": before},
            state_after={"name": name, "source": entry.source.value, "enabled": now_enabled},
            data={"name": name, "source": entry.source.value, "enabled": now_enabled},
        )

    async def close(self) -> None:
        for source in self.sources:
            await source.close()


__all__ = ["Overview", "Periodic", "Reading", "SourceStatus"]
