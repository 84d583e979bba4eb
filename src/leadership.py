"""Leadership: exactly one process of a deployment runs the leader jobs (collector, sampler, ...).

A lease in Redis: `SET key token NX PX ttl` takes it, a Lua compare-and-set renews it every
`ttl/3` (only while the value is still our token), and a compare-and-delete releases it on a clean
stop so another replica takes over at once. When a renewal fails (the key expired and someone else
holds it, or Redis has been unreachable for longer than the lease) the leader's jobs are cancelled
and the process goes back to waiting; another replica takes over after the lease expires.
Without Redis there is nobody to agree with, and the jobs simply run.

Stopping is bounded (`serve`, `collect` and `demo` promise to stop within 10 s of a signal): every
Redis call runs through `call_within`, because redis-py 8 can swallow a cancellation that arrives
while it connects (about one first lease attempt in five), after which the "acquired" lease kept
the process leading and its shutdown waited forever; and the jobs get `JOBS_STOP_TIMEOUT` seconds
to finish (the collector's last flush) before they are cancelled again and left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis

from src.process.bounded import call_within, cancel_and_wait

log = logging.getLogger(__name__)

LEASE_KEY = "celery_admin:leader"
DEFAULT_TTL = 10.0
JOBS_STOP_TIMEOUT = 2.5  # for the jobs to end once cancelled (the collector's last flush)
RELEASE_TIMEOUT = 1.0

# A lease held by a token in a Redis key: renewed or released only by its holder (also used by the
# revoke re-send's per-worker lease, src/control/revokes.py).
RENEW_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

Job = Callable[[], Awaitable[None]]


class Leadership:
    def __init__(
        self,
        redis: aioredis.Redis | None,
        jobs: list[tuple[str, Job]],
        *,
        key: str = LEASE_KEY,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.redis = redis
        self.jobs = jobs
        self.key = key
        self.ttl = ttl
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self.terms = 0  # how many times this process became leader
        self._running: list[asyncio.Task[None]] = []
        self._maybe_holding = False  # an acquire was under way: the key may be ours

    async def run(self) -> None:
        if self.redis is None:
            self.is_leader = True
            await self._run_jobs_forever()
            return
        try:
            while True:
                if await self._acquire():
                    self.is_leader = True
                    self.terms += 1
                    log.info("leadership acquired (%s)", self.token)
                    await self._lead()
                    self.is_leader = self._maybe_holding = False
                    log.warning("leadership lost (%s); leader jobs stopped", self.token)
                await asyncio.sleep(self.ttl / 3)
        finally:
            try:
                await self._stop_jobs()
            finally:
                if self.is_leader or self._maybe_holding:
                    # Compare-and-delete: harmless when the key is not ours.
                    with contextlib.suppress(Exception):
                        await call_within(self._release(), RELEASE_TIMEOUT)
                self.is_leader = False

    async def _acquire(self) -> bool:
        assert self.redis is not None
        self._maybe_holding = True
        try:
            taken = await call_within(
                self.redis.set(self.key, self.token, nx=True, px=int(self.ttl * 1000)),
                self.ttl / 3,
            )
        except asyncio.CancelledError:
            raise  # _maybe_holding stays set: the SET may still land, and run() releases it
        except Exception as exc:
            log.debug("lease acquire failed: %s", exc)
            taken = False
        self._maybe_holding = bool(taken)
        return bool(taken)

    async def _renew(self) -> bool:
        assert self.redis is not None
        result = await call_within(
            self.redis.eval(RENEW_IF_HELD, 1, self.key, self.token, int(self.ttl * 1000)),
            self.ttl / 3,
        )
        return bool(result)

    async def _release(self) -> None:
        assert self.redis is not None
        await self.redis.eval(RELEASE_IF_HELD, 1, self.key, self.token)

    async def _lead(self) -> None:
        """Run the jobs while renewals succeed; return (jobs cancelled) once the lease is gone.

        Renewals run beside this loop rather than being awaited by it: a Redis call that hangs
        (a half-open connection, client retries) must not keep this process leading past the
        lease's expiry, when another replica may already have taken over.
        """
        self._start_jobs()
        renewed = time.monotonic()
        renewal: asyncio.Task[bool] | None = None
        try:
            while True:
                await asyncio.sleep(self.ttl / 10)
                if renewal is not None and renewal.done():
                    try:
                        if not renewal.result():
                            return  # the key is gone or someone else holds it
                        renewed = time.monotonic()
                    except Exception as exc:
                        log.warning("lease renewal failed: %s", exc)
                    renewal = None
                age = time.monotonic() - renewed
                if age >= self.ttl:
                    return  # expired by now: another replica may lead
                if renewal is None and age >= self.ttl / 3:
                    renewal = asyncio.create_task(self._renew())
        finally:
            if renewal is not None:
                renewal.cancel()
            await self._stop_jobs()

    def _start_jobs(self) -> None:
        self._running = [
            asyncio.create_task(self._guard(name, job), name=f"leader:{name}")
            for name, job in self.jobs
        ]

    async def _guard(self, name: str, job: Job) -> None:
        """Restart a crashed job after a pause, while leading."""
        while True:
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader job %s crashed; restarting", name)
                await asyncio.sleep(1.0)

    async def _run_jobs_forever(self) -> None:
        self._start_jobs()
        try:
            await asyncio.gather(*self._running)
        finally:
            await self._stop_jobs()

    async def _stop_jobs(self) -> None:
        running, self._running = self._running, []
        await cancel_and_wait(running, JOBS_STOP_TIMEOUT, "leader jobs")


async def current_leader(redis: aioredis.Redis, key: str = LEASE_KEY) -> str | None:
    value = await redis.get(key)
    return value.decode() if isinstance(value, bytes) else value


__all__ = ["LEASE_KEY", "RELEASE_IF_HELD", "RENEW_IF_HELD", "Leadership", "current_leader"]
