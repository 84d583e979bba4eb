"""The long-lived parts of one celery-admin process, built once and shared by every request.

`Services.start()` and `stop()` run in the FastAPI lifespan (and in `celery-admin collect`).
Background loops register here so shutdown stops them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from celery import Celery
from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from src.auth.tokens import TokenService
from src.brokers import QueueBackend, queue_backend_for
from src.bus import EventBus, NullBus
from src.bus.redis_bus import RedisBus
from src.cluster import load_cluster_app
from src.config import Settings
from src.control.inspector import Inspector
from src.db.engine import create_engine, session_factory
from src.monitoring import switch as _switch  # noqa: F401  (declares monitoring.enabled)
from src.system_config import ConfigStore

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL = 10.0


@dataclass
class Services:
    settings: Settings
    app: Celery
    tokens: TokenService
    inspector: Inspector
    queues: QueueBackend
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    result_redis: aioredis.Redis | None
    config: ConfigStore
    bus: EventBus = field(default_factory=NullBus)
    started_at: float = field(default_factory=time.time)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _leader_jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)
    _worker_online_hooks: list[Callable[[str], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        app = load_cluster_app(settings)
        engine = create_engine(settings.database_url)
        backend_url = str(app.conf.result_backend or "")
        result_redis = (
            aioredis.Redis.from_url(backend_url, socket_timeout=2, socket_connect_timeout=2)
            if backend_url.startswith(("redis://", "rediss://"))
            else None
        )
        sessions = session_factory(engine)
        return cls(
            bus=build_bus(settings),
            settings=settings,
            app=app,
            tokens=TokenService(settings),
            inspector=Inspector(
                app,
                timeout=settings.inspect_timeout,
                cache_ttl=settings.inspect_cache_ttl,
                concurrency=settings.control_concurrency,
            ),
            queues=queue_backend_for(app),
            engine=engine,
            sessions=sessions,
            result_redis=result_redis,
            config=ConfigStore(sessions),
        )

    @property
    def broker_url(self) -> str:
        return str(self.app.conf.broker_url)

    def spawn(self, name: str, coro: Awaitable[None]) -> None:
        """Run a background loop for the life of the process."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s crashed", name)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(closer)

    def run_as_leader(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Register a loop that must run in exactly one process of the deployment (collector,
        sampler, pruning). Until leadership exists, every process that registers it runs it."""
        self._leader_jobs.append((name, job))

    def on_worker_online(self, hook: Callable[[str], Awaitable[None]]) -> None:
        """Call `hook(hostname)` whenever a worker comes (back) online."""
        self._worker_online_hooks.append(hook)

    async def worker_online(self, hostname: str) -> None:
        for hook in self._worker_online_hooks:
            try:
                await hook(hostname)
            except Exception:
                log.exception("worker-online hook failed for %s", hostname)

    async def start(self, *, discover_workers: bool = True) -> None:
        await self.bus.start()
        if discover_workers:
            self.spawn("worker-discovery", self._discovery_loop())
        for name, job in self._leader_jobs:
            self.spawn(name, job())

    async def _discovery_loop(self) -> None:
        """Ping without a limit now and then, so inspect's `limit=` counts new workers too."""
        while True:
            alive = set(self.inspector.recently_seen())
            with contextlib.suppress(Exception):
                reply = await self.inspector.discover()
                for hostname in sorted(set(reply.replies) - alive):
                    await self.worker_online(hostname)
            await asyncio.sleep(DISCOVERY_INTERVAL)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                await closer()
        await self.bus.stop()
        self.inspector.close()
        await self.queues.close()
        if self.result_redis is not None:
            await self.result_redis.aclose()
        await self.engine.dispose()


def build_bus(settings: Settings) -> EventBus:
    """The process's one event bus: Redis pub/sub (PUBSUB_URL, else a Redis broker), else none."""
    url = settings.pubsub_redis_url
    if url is None:
        return NullBus()
    return RedisBus(
        url, queue_size=settings.bus_queue_size, canary_interval=settings.bus_canary_interval
    )


__all__ = ["Services", "build_bus"]
