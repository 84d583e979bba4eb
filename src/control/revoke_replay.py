"""Re-sending the durable revokes to a worker until it acknowledges them.

A worker that starts does not listen for broadcasts at once: Celery sends `worker-online` and
starts consuming tasks before its control consumer is up, so a re-send fired once on
`worker-online` is lost (on Redis the pidbox is pub/sub and keeps nothing). Here a re-send counts
only when a reply comes back from that very hostname; until then it is repeated with backoff
(`RETRY_DELAYS`, then every `RETRY_EVERY` seconds, for at most `GIVE_UP_AFTER` seconds). The ids are
read afresh for every attempt, so a revoke recorded meanwhile goes too.

For a worker started with mingle (Celery's default) the mingle answer (mingle_responder.py) has
given it the revokes before it took any task; this is the fallback, and the only path for one
started `--without-mingle`, which can still take a queued task in the moment before the re-send
lands (the README says so). It is asked for (`notice`) when a worker comes (back) online (the
collector's `worker-online`, the discovery ping) and when it misses a revoke broadcast although it
was counted alive (stopped, restarting, or not listening yet after its `hello`).

Across replicas one re-sends to a given worker at a time (a lease in Redis); a replica that finds
the lease taken asks the holder for one more round instead, since the worker may have restarted
since its last attempt. Re-sending is idempotent: a worker merges ids it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from functools import partial

from src.control.broadcast import Controller
from src.control.revokes import RevokeRegistry

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)
RETRY_EVERY = 5.0
GIVE_UP_AFTER = 90.0
LEASE_TTL = 15.0  # renewed on every attempt; a replica that dies frees its workers this fast
BATCH = 5000  # ids per revoke command (a reply repeats them all)
MAX_PENDING = 512  # workers being re-sent to at once in one process; more are dropped (logged)
CONCURRENCY = 2  # re-send broadcasts at once, so API calls keep the rest of the executor


class RevokeReplayer:
    """See the module docstring. `notice` must be called on the event loop."""

    def __init__(
        self, registry: Callable[[], RevokeRegistry], controller: Controller, *, timeout: float
    ) -> None:
        self._registry = registry
        self.controller = controller
        self.timeout = timeout
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, asyncio.Task[bool]] = {}
        self._again: dict[str, asyncio.Event] = {}
        self._sending = asyncio.Semaphore(CONCURRENCY)
        self.acknowledged: dict[str, int] = {}  # hostname -> acknowledged re-sends (diagnostics)

    def notice(self, hostname: str) -> None:
        """`hostname` may lack revokes it should have: re-send them until it acknowledges."""
        if hostname in self._running:
            self._again[hostname].set()
            return
        if len(self._running) >= MAX_PENDING:
            log.warning("revoke re-send to %s dropped: %d already pending", hostname, MAX_PENDING)
            return
        self._again[hostname] = asyncio.Event()
        task = asyncio.create_task(self.replay(hostname), name=f"revoke-replay:{hostname}")
        self._running[hostname] = task
        task.add_done_callback(partial(self._done, hostname))

    def _done(self, hostname: str, _task: asyncio.Task[bool]) -> None:
        self._running.pop(hostname, None)
        self._again.pop(hostname, None)

    async def replay(self, hostname: str) -> bool:
        """Re-send until `hostname` acknowledges; False when another replica does it or the worker
        never answered within GIVE_UP_AFTER."""
        registry = self._registry()
        try:
            if not await registry.claim_replay(hostname, self.token, LEASE_TTL):
                return False
        except Exception as exc:
            log.warning("revoke re-send to %s: Redis unavailable: %s", hostname, exc)
            return False
        try:
            while True:
                if not await self._until_acknowledged(hostname, registry):
                    return False
                self.acknowledged[hostname] = self.acknowledged.get(hostname, 0) + 1
                again = self._again.get(hostname)  # noticed while the acknowledged attempt ran
                asked_again = (again is not None and again.is_set()) or (
                    await registry.take_replay_again(hostname)
                )
                if not asked_again:
                    return True
        finally:
            with contextlib.suppress(Exception):
                await registry.release_replay(hostname, self.token)

    async def _until_acknowledged(self, hostname: str, registry: RevokeRegistry) -> bool:
        give_up = time.monotonic() + GIVE_UP_AFTER
        attempt = 0
        while True:
            again = self._again.get(hostname)
            if again is not None:
                again.clear()
            try:
                await registry.refresh_replay(hostname, self.token, LEASE_TTL)
                ids = await registry.live()
                if not ids or await self._send(hostname, ids):
                    if ids:
                        log.info("re-sent %d revoke(s) to %s: acknowledged", len(ids), hostname)
                    return True
            except Exception as exc:  # the broker or Redis is down: keep trying until give_up
                log.info("revoke re-send to %s failed: %s", hostname, exc)
            delay = RETRY_DELAYS[attempt] if attempt < len(RETRY_DELAYS) else RETRY_EVERY
            attempt += 1
            if time.monotonic() + delay > give_up:
                log.warning("revoke re-send to %s: no acknowledgement; gave up", hostname)
                return False
            await self._pause(hostname, delay)

    async def _pause(self, hostname: str, delay: float) -> None:
        """Sleep `delay`, or less when the worker is noticed again (it may be listening now)."""
        again = self._again.get(hostname)
        if again is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(again.wait(), timeout=delay)

    async def _send(self, hostname: str, ids: list[str]) -> bool:
        async with self._sending:
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                replies = await self.controller.call(
                    "revoke",
                    {"task_id": batch, "terminate": False},
                    destination=[hostname],
                    wait=self.timeout,
                )
                if hostname not in replies:
                    return False
        return True

    async def close(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = ["RevokeReplayer"]
