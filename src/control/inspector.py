"""Inspect broadcasts, shared and bounded.

Celery's inspect calls block for up to their timeout, so they run in a small thread pool (which also
bounds how many run at once: kombu's connection pool deadlocks past about ten). Concurrent callers of
the same kind share one in-flight broadcast, and its reply is cached briefly. Each broadcast stops as
soon as every known worker has answered (`limit=`), instead of always waiting out the timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any

from celery import Celery

from src.control.daemon_pool import DaemonThreadPool
from src.errors import BrokerUnavailable

log = logging.getLogger(__name__)


class InspectKind(StrEnum):
    PING = "ping"
    STATS = "stats"
    ACTIVE = "active"
    RESERVED = "reserved"
    SCHEDULED = "scheduled"
    REGISTERED = "registered"
    ACTIVE_QUEUES = "active_queues"
    REVOKED = "revoked"
    CONF = "conf"
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class InspectReply:
    """Replies of one broadcast, by worker hostname."""

    kind: InspectKind
    replies: dict[str, Any]
    at: float  # monotonic, when the replies were in: for cache ages
    started: float  # monotonic, when the broadcast was sent: for freshness
    duration: float
    received_at: datetime  # wall clock, for display


@dataclass
class _KnownWorkers:
    """Hostnames that answered: within `ttl` they count as alive (how many replies a broadcast
    may wait for); within `remember` they are listed as offline workers."""

    ttl: float
    remember: float = 3600.0
    limit: int = 10_000
    seen: dict[str, float] = field(default_factory=dict)

    def observe(self, hostnames: Iterable[str], now: float) -> None:
        for hostname in hostnames:
            self.seen.pop(hostname, None)
            self.seen[hostname] = now  # most recent last, so trimming drops the oldest
        while len(self.seen) > self.limit:
            del self.seen[next(iter(self.seen))]

    def forget(self, hostname: str) -> None:
        self.seen.pop(hostname, None)

    def mark_offline(self, hostname: str, now: float) -> None:
        """No longer alive (broadcasts stop waiting for it), still remembered as offline."""
        if hostname in self.seen:
            self.seen[hostname] = min(self.seen[hostname], now - self.ttl - 1)

    def alive(self, now: float) -> list[str]:
        return [h for h, at in self.seen.items() if now - at <= self.ttl]

    def remembered(self, now: float) -> list[str]:
        for hostname, at in list(self.seen.items()):
            if now - at > self.remember:
                del self.seen[hostname]
        return list(self.seen)


class Inspector:
    """Runs inspect broadcasts for the whole process; see the module docstring."""

    def __init__(
        self,
        app: Celery,
        *,
        timeout: float = 1.0,
        cache_ttl: float = 1.0,
        concurrency: int = 4,
        known_ttl: float = 30.0,
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self._executor = DaemonThreadPool(concurrency, thread_name_prefix="inspect")
        self._inflight: dict[InspectKind, asyncio.Future[InspectReply]] = {}
        self._cache: dict[InspectKind, InspectReply] = {}
        self._known = _KnownWorkers(ttl=known_ttl)
        self.broadcasts = 0  # how many broadcasts this process sent: tests and benchmarks read it
        self.sent: Counter[InspectKind] = Counter()  # the same by kind (the discovery is PING)
        self.background_refreshes = 0  # broadcasts started by `refresh` (nobody waits for them)

    @property
    def executor(self) -> DaemonThreadPool:
        return self._executor

    def observe_workers(self, hostnames: Iterable[str]) -> None:
        """Another source (heartbeats, a discovery ping) saw these workers alive."""
        self._known.observe(hostnames, time.monotonic())

    def forget_worker(self, hostname: str) -> None:
        self._known.forget(hostname)

    def mark_offline(self, hostname: str) -> None:
        """A worker known to have stopped (e.g. shut down): listed offline, not waited for."""
        self._known.mark_offline(hostname, time.monotonic())

    def known_worker_count(self) -> int:
        return len(self._known.alive(time.monotonic()))

    def known_workers(self) -> list[str]:
        """The workers counted as alive: those a broadcast to every worker waits for."""
        return self._known.alive(time.monotonic())

    def recently_seen(self) -> list[str]:
        """Every worker that answered within the last hour, alive or not."""
        return self._known.remembered(time.monotonic())

    def invalidate(self, *kinds: InspectKind) -> None:
        """Drop cached replies, e.g. after a control command changed what they describe."""
        for kind in kinds or tuple(self._cache):
            self._cache.pop(kind, None)

    async def get(
        self, kind: InspectKind, *, max_age: float | None = None, asked_at: float | None = None
    ) -> InspectReply:
        """The replies of `kind`: from cache when younger than max_age (default: cache_ttl) or
        when the broadcast was sent after `asked_at` (it is as fresh as a new one would be), else
        from the broadcast in flight, else from a new one."""
        ttl = self.cache_ttl if max_age is None else max_age
        cached = self._cache.get(kind)
        if cached is not None and (
            time.monotonic() - cached.at <= ttl
            or (asked_at is not None and cached.started >= asked_at)
        ):
            return cached
        return await asyncio.shield(self._start(kind))

    def refresh(self, kind: InspectKind) -> None:
        """Start a broadcast of `kind` in the background unless its cached reply is fresh or one is
        in flight; never waits. Request paths that must answer at once (systemStatus) use this
        and read `known_workers()`, so no request waits out a broadcast's timeout."""
        cached = self._cache.get(kind)
        if cached is not None and time.monotonic() - cached.at <= self.cache_ttl:
            return
        self.background_refreshes += 1
        self._start(kind)

    def _start(self, kind: InspectKind) -> asyncio.Future[InspectReply]:
        inflight = self._inflight.get(kind)
        if inflight is None:
            inflight = asyncio.ensure_future(self._broadcast(kind, limit=self.known_worker_count()))
            self._inflight[kind] = inflight
            inflight.add_done_callback(partial(self._finished, kind))
        return inflight

    def _finished(self, kind: InspectKind, future: asyncio.Future[InspectReply]) -> None:
        self._inflight.pop(kind, None)
        if not future.cancelled():
            future.exception()  # retrieved here: a refresh nobody awaits must not log "never retrieved"

    async def discover(self) -> InspectReply:
        """Ping without a limit, waiting the whole timeout: finds workers nobody knew of."""
        return await self._broadcast(InspectKind.PING, limit=0)

    async def _broadcast(self, kind: InspectKind, *, limit: int) -> InspectReply:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        self.broadcasts += 1
        self.sent[kind] += 1
        try:
            replies = await loop.run_in_executor(self._executor, self._call, kind, limit or None)
        except BrokerUnavailable:
            raise
        except Exception as exc:  # kombu/redis errors vary by transport
            log.warning("inspect %s failed: %s", kind, exc)
            raise BrokerUnavailable(f"broker unreachable for inspect {kind}: {exc}") from exc
        now = time.monotonic()
        self._known.observe(replies, now)
        reply = InspectReply(
            kind=kind,
            replies=replies,
            at=now,
            started=started,
            duration=now - started,
            received_at=datetime.now(UTC),
        )
        self._cache[kind] = reply
        return reply

    def _call(self, kind: InspectKind, limit: int | None) -> dict[str, Any]:
        inspect = self.app.control.inspect(timeout=self.timeout, limit=limit)
        method: Callable[[], dict[str, Any] | None] = getattr(inspect, kind.value)
        return dict(method() or {})

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


__all__ = ["InspectKind", "InspectReply", "Inspector"]
