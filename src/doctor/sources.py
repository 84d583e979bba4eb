"""What the checks read, fetched once per doctor run and shared between the checks that need it
(one `inspect stats` for all of them, one Redis connection per server), each read bounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from celery import Celery
from celery.app.defaults import DEFAULTS
from redis import asyncio as aioredis
from sqlalchemy import func, select

from src.collector.collector import read_status
from src.collector.workers_registry import WorkerRecord, read_workers
from src.control.inspector import InspectKind, Inspector
from src.db.models.tasks import TaskRecord
from src.db.session import Database

T = TypeVar("T")

HISTORY = timedelta(hours=24)  # how far back the task store is read
RECENT_TASKS = 500  # rows read for per-name facts (sent events)
UNACKED_SAMPLE = 1000  # messages of the broker's `unacked` hash read for ETAs
REDIS_SECONDS = 2.0
DB_SECONDS = 4.0


@dataclass(frozen=True, slots=True)
class RedisMemory:
    url: str  # masked
    policy: str
    maxmemory: int
    used_memory: int | None


@dataclass(frozen=True, slots=True)
class TaskFact:
    seconds: float
    name: str | None
    task_id: str


@dataclass
class Sources:
    """One run's view of the cluster. `close()` releases its Redis connections."""

    app: Celery
    inspector: Inspector | None
    db: Database | None
    state_redis: aioredis.Redis | None
    operators_app: bool = False  # `app` is the operator's own (CELERY_APP), not built from a URL
    _memo: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    _clients: list[aioredis.Redis] = field(default_factory=list)

    async def _once(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        future = self._memo.get(key)
        if future is None:
            future = self._memo[key] = asyncio.ensure_future(make())
        result: T = await asyncio.shield(future)
        return result

    async def close(self) -> None:
        for future in self._memo.values():
            future.cancel()
        for client in self._clients:
            await client.aclose()

    # -- Celery ---------------------------------------------------------------------------

    @property
    def broker_url(self) -> str:
        return str(self.app.conf.broker_url or "")

    @property
    def result_backend(self) -> str:
        return str(self.app.conf.result_backend or "")

    async def stats(self) -> dict[str, dict[str, Any]]:
        """`inspect stats` by worker hostname (empty without an inspector)."""

        async def fetch() -> dict[str, dict[str, Any]]:
            if self.inspector is None:
                return {}
            reply = await self.inspector.get(InspectKind.STATS, max_age=5.0)
            return {h: r for h, r in reply.replies.items() if isinstance(r, dict)}

        return await self._once("stats", fetch)

    async def worker_conf(self) -> dict[str, dict[str, Any]]:
        """Each worker's effective configuration: Celery's defaults under what `inspect conf`
        reports (it lists only the settings that differ from the defaults)."""

        async def fetch() -> dict[str, dict[str, Any]]:
            if self.inspector is None:
                return {}
            reply = await self.inspector.get(InspectKind.CONF, max_age=5.0)
            return {h: {**DEFAULTS, **r} for h, r in reply.replies.items() if isinstance(r, dict)}

        return await self._once("conf", fetch)

    # -- Redis ----------------------------------------------------------------------------

    def redis_for(self, url: str) -> aioredis.Redis | None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return None
        client = aioredis.Redis.from_url(
            url, socket_timeout=REDIS_SECONDS, socket_connect_timeout=REDIS_SECONDS
        )
        self._clients.append(client)
        return client

    async def broker_redis(self) -> aioredis.Redis | None:
        async def make() -> aioredis.Redis | None:
            return self.redis_for(self.broker_url)

        return await self._once("broker_redis", make)

    async def result_redis(self) -> aioredis.Redis | None:
        async def make() -> aioredis.Redis | None:
            return self.redis_for(self.result_backend)

        return await self._once("result_redis", make)

    async def unacked_eta_waits(self) -> list[TaskFact]:
        """Messages workers hold unacknowledged on a Redis broker (ETA and countdown tasks wait
        there until due): how long each waits from delivery to its ETA, longest first."""

        async def fetch() -> list[TaskFact]:
            redis = await self.broker_redis()
            if redis is None:
                return []
            options = self.app.conf.broker_transport_options or {}
            key = options.get("unacked_key", "unacked")
            index = options.get("unacked_index_key", "unacked_index")
            pairs: Any = await redis.zrange(index, 0, UNACKED_SAMPLE - 1, withscores=True)
            delivered: dict[Any, float] = dict(pairs)
            waits = []
            cursor, seen = 0, 0
            while True:
                cursor, batch = await redis.hscan(key, cursor, count=200)
                for tag, raw in cast(dict[Any, Any], batch).items():
                    seen += 1
                    fact = _eta_wait(raw, delivered.get(tag))
                    if fact is not None:
                        waits.append(fact)
                if not cursor or seen >= UNACKED_SAMPLE:
                    break
            return sorted(waits, key=lambda f: -f.seconds)

        return await self._once("unacked", fetch)

    # -- celery-admin's own records ---------------------------------------------------------

    async def workers_heard(self) -> dict[str, WorkerRecord]:
        return await self._once("registry", lambda: read_workers(self.state_redis))

    async def collector_running(self) -> bool:
        async def fetch() -> bool:
            return await read_status(self.state_redis) is not None

        return await self._once("collector", fetch)

    async def longest_runtimes(self) -> dict[str | None, TaskFact]:
        """The longest runtime recorded in the last day, overall (key None) and per worker."""

        async def fetch() -> dict[str | None, TaskFact]:
            if self.db is None:
                return {}
            t = TaskRecord
            since = datetime.now(UTC) - HISTORY
            longest = (
                select(t.worker, func.max(t.runtime).label("runtime"))
                .where(t.finished_at >= since, t.runtime.is_not(None))
                .group_by(t.worker)
                .subquery()
            )
            query = (
                select(t.worker, t.runtime, t.name, t.task_id)
                .join(longest, (t.worker == longest.c.worker) & (t.runtime == longest.c.runtime))
                .where(t.finished_at >= since)
                .limit(1000)
            )
            async with self.db.session("doctor: runtimes", seconds=DB_SECONDS) as session:
                rows = (await session.execute(query)).all()
            out: dict[str | None, TaskFact] = {}
            for worker, runtime, name, task_id in rows:
                if runtime is None:
                    continue
                fact = TaskFact(float(runtime), name, task_id)
                out.setdefault(worker, fact)
                if None not in out or fact.seconds > out[None].seconds:
                    out[None] = fact
            return out

        return await self._once("runtimes", fetch)

    async def recorded_eta_waits(self) -> list[TaskFact]:
        """ETA minus sending (or receipt) time of the last day's tasks that had one, longest
        first (at most 200 rows read, the latest ETAs)."""

        async def fetch() -> list[TaskFact]:
            if self.db is None:
                return []
            t = TaskRecord
            since = datetime.now(UTC) - HISTORY
            query = (
                select(t.eta, t.sent_at, t.received_at, t.name, t.task_id)
                .where(t.eta.is_not(None), t.seen_at >= since)
                .order_by(t.eta.desc())
                .limit(200)
            )
            async with self.db.session("doctor: etas", seconds=DB_SECONDS) as session:
                rows = (await session.execute(query)).all()
            waits = []
            for eta, sent, received, name, task_id in rows:
                start = sent or received
                if start is not None and eta is not None:
                    waits.append(TaskFact((eta - start).total_seconds(), name, task_id))
            return sorted(waits, key=lambda f: -f.seconds)

        return await self._once("etas", fetch)

    async def tasks_by_worker(self) -> dict[str, int]:
        """How many of the last day's task rows name each worker (rows come from task events)."""

        async def fetch() -> dict[str, int]:
            if self.db is None:
                return {}
            t = TaskRecord
            since = datetime.now(UTC) - HISTORY
            query = (
                select(t.worker, func.count())
                .where(t.seen_at >= since, t.worker.is_not(None))
                .group_by(t.worker)
                .limit(10_000)
            )
            async with self.db.session("doctor: workers", seconds=DB_SECONDS) as session:
                rows = (await session.execute(query)).all()
            return {w: int(n) for w, n in rows if w is not None}

        return await self._once("by_worker", fetch)

    async def recent_sent_times(self) -> dict[str | None, tuple[int, int]]:
        """Per task name, of the latest rows: (rows, rows without a sent time)."""

        async def fetch() -> dict[str | None, tuple[int, int]]:
            if self.db is None:
                return {}
            t = TaskRecord
            query = select(t.name, t.sent_at).order_by(t.seen_at.desc()).limit(RECENT_TASKS)
            async with self.db.session("doctor: sent", seconds=DB_SECONDS) as session:
                rows = (await session.execute(query)).all()
            out: dict[str | None, tuple[int, int]] = {}
            for name, sent in rows:
                total, missing = out.get(name, (0, 0))
                out[name] = (total + 1, missing + (sent is None))
            return out

        return await self._once("sent", fetch)


def _eta_wait(raw: bytes, delivered_at: float | None) -> TaskFact | None:
    try:
        message = json.loads(raw)[0]
        headers = message.get("headers") or {}
        eta = headers.get("eta")
        if not eta or delivered_at is None:
            return None
        when = datetime.fromisoformat(eta)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return TaskFact(
            when.timestamp() - delivered_at, headers.get("task"), str(headers.get("id"))
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


__all__ = ["RedisMemory", "Sources", "TaskFact"]
