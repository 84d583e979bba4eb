"""RedBeat's entries in Redis: the only module that knows RedBeat's key layout.

RedBeat (`celery-redbeat`, checked against 2.4 by tests/contracts/test_redbeat.py) keeps, under
its key prefix (`redbeat_key_prefix`, default `redbeat:`):

- `<prefix>:schedule`, a sorted set of entry keys scored by when each is due next (a UNIX time;
  -1 when it will not run again): the index of every entry;
- `<prefix><name>`, a hash per entry: `definition` (JSON: name, task, args, kwargs, options,
  schedule, enabled) and `meta` (JSON: last_run_at, total_run_count), datetimes and schedules
  encoded as objects with a `__type__` (datetime, interval, crontab, rrule);
- `<prefix>:lock` (`redbeat_lock_key`), the lock the running beat holds and renews on every tick
  with `redbeat_lock_timeout` (default five times beat's max loop interval: 1500 s), deleted when
  it stops cleanly.

We read it without importing RedBeat (celery-admin does not need it installed), decode the JSON
ourselves, and switch an entry on or off the way RedBeat itself does: `enabled` in its definition,
written with an optimistic transaction (WATCH) so a concurrent save is never overwritten.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from celery import Celery
from celery.schedules import crontab, schedule
from redis import asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from src.errors import BrokerUnavailable
from src.periodic.model import Entry, Schedule, ScheduleKind, Source
from src.periodic.schedules import describe
from src.periodic.sources.base import MAX_ENTRIES, Heartbeat
from src.security.masking import mask_url

DEFAULT_PREFIX = "redbeat:"
DEFAULT_LOCK_TIMEOUT = 1500.0  # RedBeat: 5 x beat's default max loop interval (300 s)
# A live RedBeat renews its lock at least every max loop interval (a fifth of the timeout): not
# renewed for two of those, it is stuck or gone.
STALE_FRACTION = 0.4
WRITE_ATTEMPTS = 5


def schedule_key(prefix: str) -> str:
    return f"{prefix}:schedule"


def default_lock_key(prefix: str) -> str:
    return f"{prefix}:lock"


def entry_key(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def decode_datetime(value: Any) -> datetime | None:
    """RedBeat's `{"__type__": "datetime", year.., "timezone": name | offset seconds}`."""
    if not isinstance(value, dict) or value.get("__type__") != "datetime":
        return None
    zone = value.get("timezone", "UTC")
    tz: Any
    if isinstance(zone, int | float):
        tz = timezone(timedelta(seconds=zone))
    else:
        try:
            tz = ZoneInfo(str(zone))
        except Exception:
            tz = UTC
    parts = {k: int(value.get(k, 0)) for k in ("hour", "minute", "second", "microsecond")}
    stamp = datetime(int(value["year"]), int(value["month"]), int(value["day"]), tzinfo=tz, **parts)
    return stamp.astimezone(UTC)


def decode_schedule(value: Any, *, app: Celery | None, zone: str) -> Schedule:
    """RedBeat's schedule object as ours: interval and crontab computable here; an rrule kept in
    its own form (its next run is the sorted set's score)."""
    kind = value.get("__type__") if isinstance(value, dict) else None
    if kind == "interval":
        return describe(
            schedule(timedelta(seconds=float(value["every"])), bool(value.get("relative")), app=app)
        )
    if kind == "crontab":
        fields = {
            f: value.get(f, "*")
            for f in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
        }
        return describe(crontab(**fields, app=app), timezone=zone)
    if kind == "rrule":
        form = {"type": "rrule", **{k: v for k, v in value.items() if k != "__type__"}}
        shown = ", ".join(
            f"{k}={v}" for k, v in form.items() if k not in ("type",) and v not in (None, [], ())
        )
        return Schedule(ScheduleKind.RRULE, f"rrule ({shown})", form, None)
    return Schedule(ScheduleKind.OTHER, repr(value)[:200], {"type": str(kind)}, None)


def decode_entry(
    definition: str, meta: str | None, score: float | None, *, app: Celery | None, zone: str
) -> Entry:
    spec = json.loads(definition)
    state = json.loads(meta) if meta else {}
    return Entry(
        name=str(spec["name"]),
        task=str(spec.get("task") or ""),
        source=Source.REDBEAT,
        schedule=decode_schedule(spec.get("schedule"), app=app, zone=zone),
        args=list(spec.get("args") or []),
        kwargs=dict(spec.get("kwargs") or {}),
        options=dict(spec.get("options") or {}),
        enabled=bool(spec.get("enabled", True)),
        last_run_at=decode_datetime(state.get("last_run_at")),
        total_run_count=state.get("total_run_count"),
        due_at=(datetime.fromtimestamp(score, UTC) if score is not None and score >= 0 else None),
    )


class RedBeatSource:
    source = Source.REDBEAT

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        lock_key: str | None = None,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
        app: Celery | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        # RedBeat puts a lock key that lacks the prefix under it.
        lock = lock_key if lock_key is not None else default_lock_key(prefix)
        self.lock_key = lock if not lock or lock.startswith(prefix) else prefix + lock
        self.lock_timeout = lock_timeout
        self.app = app
        self.zone = str(app.timezone) if app is not None else "UTC"
        self.redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=3,
            socket_connect_timeout=2,
            max_connections=4,
        )

    def where(self) -> str:
        return f"RedBeat at {mask_url(self.url)} (prefix {self.prefix!r})"

    def _unavailable(self, exc: Exception) -> BrokerUnavailable:
        return BrokerUnavailable(f"RedBeat's Redis unavailable: {exc}")

    async def entries(self) -> list[Entry]:
        try:
            raw: list[Any] = await self.redis.zrange(
                schedule_key(self.prefix), 0, MAX_ENTRIES - 1, withscores=True
            )
            scored = [(str(key), float(score)) for key, score in raw]
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, _score in scored:
                    pipe.hmget(key, "definition", "meta")
                rows: list[list[str | None]] = await pipe.execute() if scored else []
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        found = []
        for (_key, score), (definition, meta) in zip(scored, rows, strict=True):
            if not definition:  # removed between the two reads
                continue
            try:
                found.append(decode_entry(definition, meta, score, app=self.app, zone=self.zone))
            except (ValueError, KeyError, TypeError):
                continue  # an entry RedBeat itself could not load either
        return sorted(found, key=lambda e: e.name)

    async def set_enabled(self, name: str, enabled: bool) -> bool | None:
        key = entry_key(self.prefix, name)
        try:
            for _attempt in range(WRITE_ATTEMPTS):
                async with self.redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(key)
                        raw = await pipe.hget(key, "definition")
                        if not raw:
                            return None
                        definition = json.loads(raw)
                        before = bool(definition.get("enabled", True))
                        definition["enabled"] = enabled
                        pipe.multi()
                        pipe.hset(key, "definition", json.dumps(definition))
                        await pipe.execute()
                        return before
                    except WatchError:
                        continue  # saved meanwhile: read it again
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        raise BrokerUnavailable(f"RedBeat entry {name!r} kept changing; try again")

    async def heartbeat(self) -> Heartbeat | None:
        if not self.lock_key:
            return None
        try:
            pttl = int(await self.redis.pttl(self.lock_key))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        held = pttl != -2  # -2: no such key; -1: held without expiry
        ttl = pttl / 1000 if pttl >= 0 else None
        renewed = None
        stale = False
        if ttl is not None and self.lock_timeout and ttl <= self.lock_timeout:
            renewed = round(self.lock_timeout - ttl, 3)
            stale = renewed > STALE_FRACTION * self.lock_timeout
        return Heartbeat("redbeat_lock", self.lock_key, held, ttl, renewed, stale)

    async def close(self) -> None:
        await self.redis.aclose()


__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_PREFIX",
    "RedBeatSource",
    "decode_datetime",
    "decode_entry",
    "decode_schedule",
    "default_lock_key",
    "entry_key",
    "schedule_key",
]
