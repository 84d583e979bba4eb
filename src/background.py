"""The loops and hooks of one process: background tasks, leader jobs, worker-online hooks and
closers, started and stopped in order by the composition root (src/runtime.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis

from src.control.inspector import Inspector
from src.leadership import Leadership
from src.process.bounded import StopBudget, cancel_and_wait, stop_within

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL = 10.0
# A stop is bounded (the commands promise to stop within 10 s of a signal, uvicorn's graceful stop
# of open connections comes first): in all (src/runtime.py) and per step; an overrun is logged.
TASKS_STOP_SECONDS = 4.5  # the leadership needs up to 3.5 (src/leadership.py)
STEP_STOP_SECONDS = 2.0

Job = Callable[[], Awaitable[None]]


class Background:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.leader_jobs: list[tuple[str, Job]] = []
        self.leadership: Leadership | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._worker_online_hooks: list[Callable[[str], Awaitable[None]]] = []

    def spawn(self, name: str, coro: Awaitable[None]) -> None:
        """Run a background loop for the life of the process."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s crashed", name)

        self.tasks.append(asyncio.create_task(guarded(), name=name))

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Call `closer()` at stop, after the loops ended (last registered, first called)."""
        self._closers.append(closer)

    def run_as_leader(self, name: str, job: Job) -> None:
        """Register a loop that must run in exactly one process of the deployment (collector,
        sampler, pruning): it runs while this process holds the Redis lease (src/leadership.py)
        and is cancelled when the lease is lost. Register before `start()`."""
        self.leader_jobs.append((name, job))

    def on_worker_online(self, hook: Callable[[str], Awaitable[None]]) -> None:
        """Call `hook(hostname)` whenever a worker comes (back) online."""
        self._worker_online_hooks.append(hook)

    async def worker_online(self, hostname: str) -> None:
        for hook in self._worker_online_hooks:
            try:
                await hook(hostname)
            except Exception:
                log.exception("worker-online hook failed for %s", hostname)

    def start(
        self,
        *,
        state_redis: aioredis.Redis | None,
        lease_seconds: float,
        discovery: Inspector | None,
    ) -> None:
        """Start worker discovery (when given an inspector) and the competition for leadership."""
        if discovery is not None:
            self.spawn("worker-discovery", self._discovery_loop(discovery))
        if self.leader_jobs:
            self.leadership = Leadership(state_redis, list(self.leader_jobs), ttl=lease_seconds)
            self.spawn("leadership", self.leadership.run())

    async def _discovery_loop(self, inspector: Inspector) -> None:
        """Ping without a limit now and then, so inspect's `limit=` counts new workers too.

        A worker that did not answer the previous round and answers now has come (back) online,
        even under a hostname seen before (a restart): worker-online hooks run for it."""
        previous: set[str] = set()
        while True:
            with contextlib.suppress(Exception):
                reply = await inspector.discover()
                current = set(reply.replies)
                for hostname in sorted(current - previous):
                    await self.worker_online(hostname)
                for hostname in previous - current:  # silent for a whole ping: offline
                    inspector.mark_offline(hostname)
                previous = current
            await asyncio.sleep(DISCOVERY_INTERVAL)

    async def stop(self, budget: StopBudget) -> None:
        """Cancel the loops and run the closers, each bounded (see src/process/bounded.py)."""
        await cancel_and_wait(self.tasks, budget.left(TASKS_STOP_SECONDS), "background tasks")
        for closer in reversed(self._closers):
            await stop_within(closer(), budget.left(STEP_STOP_SECONDS), _name(closer))


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", repr(fn))


__all__ = ["DISCOVERY_INTERVAL", "STEP_STOP_SECONDS", "Background"]
