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
from typing import Any

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
from src.control.plane import ControlPlane
from src.db.engine import create_engine, session_factory
from src.leadership import Leadership
from src.monitoring import switch as _switch  # noqa: F401  (declares monitoring.enabled)
from src.system_config import ConfigStore
from src.task_store.retention import TaskRetention

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
    # celery-admin's own cross-replica state (leader lease, worker registry, collector status):
    # PUBSUB_URL, else the broker, else the result backend, when one of them is Redis.
    state_redis: aioredis.Redis | None = None
    leadership: Leadership | None = None
    collector: Any = None  # src.collector.collector.Collector, when this process may collect
    started_at: float = field(default_factory=time.time)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _leader_jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)
    _worker_online_hooks: list[Callable[[str], Awaitable[None]]] = field(default_factory=list)
    control: ControlPlane = field(init=False)  # audited control commands, revoke replay

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
        state_url = settings.pubsub_redis_url or (backend_url if result_redis is not None else None)
        state_redis = (
            aioredis.Redis.from_url(state_url, socket_timeout=3, socket_connect_timeout=2)
            if state_url
            else None
        )
        services = cls(
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
            state_redis=state_redis,
        )
        services.control = ControlPlane.attach(services)
        services.run_as_leader("task-retention", TaskRetention(engine, services.config).run)
        if settings.collector_enabled:
            from src.collector.collector import collector_for

            services.collector = collector = collector_for(services)
            services.run_as_leader("collector", collector.run)
        return services

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
        sampler, pruning): it runs while this process holds the Redis lease (src/leadership.py)
        and is cancelled when the lease is lost. Register before `start()`."""
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
        if self._leader_jobs:
            self.leadership = Leadership(
                self.state_redis,
                list(self._leader_jobs),
                ttl=self.settings.leader_lease_seconds,
            )
            self.spawn("leadership", self.leadership.run())

    async def _discovery_loop(self) -> None:
        """Ping without a limit now and then, so inspect's `limit=` counts new workers too.

        A worker that did not answer the previous round and answers now has come (back) online,
        even under a hostname seen before (a restart): worker-online hooks run for it."""
        previous: set[str] = set()
        while True:
            with contextlib.suppress(Exception):
                reply = await self.inspector.discover()
                current = set(reply.replies)
                for hostname in sorted(current - previous):
                    await self.worker_online(hostname)
                for hostname in previous - current:  # silent for a whole ping: offline
                    self.inspector.mark_offline(hostname)
                previous = current
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
        if self.state_redis is not None:
            await self.state_redis.aclose()
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
