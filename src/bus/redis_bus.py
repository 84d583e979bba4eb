"""The event bus over `broadcaster` on Redis pub/sub, with the guardrails broadcaster lacks.

broadcaster 0.3.1 with redis-py 8 has four problems, each handled here:
- its Redis backend marks itself ready before SUBSCRIBE completes, so its listener exits at once and
  nothing is ever delivered: `_SubscribeFirstBackend` subscribes, then sets ready;
- after a longer Redis outage its listener dies and subscribers wait forever: a canary message on a
  private channel every `canary_interval` seconds must come back within three intervals, else (or
  when a listener task has ended) the whole broadcaster is rebuilt, with backoff while Redis is down,
  and every local subscriber is told that messages may be missing;
- its per-subscriber queues are unbounded: the process subscribes ONCE per channel (broadcaster's one
  queue per channel is drained at once) and fans out to bounded queues (`src.bus.fanout`);
- concurrent first subscribes to one channel can lose one: channels are subscribed one after the
  other, all at start-up, and never unsubscribed.

`publish` is bounded by a short timeout, never raises, and after a failure drops messages without
trying for a moment (a circuit breaker), so a producer never waits on a dead Redis; drops are counted
and logged at most once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from broadcaster import Broadcast
from broadcaster._backends.redis import RedisBackend
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from src.bus.base import ENVELOPE_VERSION, BusHealth, Channel
from src.bus.fanout import Fanout, FanoutStats, Subscriber

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
LOG_INTERVAL = 30.0  # at most one log line per kind of trouble per this many seconds
INITIAL_BACKOFF = 0.25
CANARY_KIND = "bus.canary"


class _SubscribeFirstBackend(RedisBackend):
    """broadcaster's Redis backend, made to work with redis-py 8 and to fail fast when Redis is down.

    The pub/sub connection has a connect timeout but no read timeout (it waits for messages)."""

    def __init__(self, url: str) -> None:  # replaces the parent's, on purpose
        self._conn = aioredis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_keepalive=True, retry=_no_retry()
        )
        self._pubsub = self._conn.pubsub()
        self._ready = asyncio.Event()
        self._queue = asyncio.Queue()
        self._listener = None

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()  # only now: redis-py's listen() returns at once while nothing is subscribed

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.done()


def _no_retry() -> Retry:
    """redis-py's own retries (with multi-second backoff) would hide a dead Redis from the bus,
    which retries itself, sooner, and tells subscribers."""
    return Retry(NoBackoff(), 0)


class _RateLimitedLog:
    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) >= self.interval:
            self._last[key] = now
            log.warning(message, *args)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, default=_json_default, separators=(",", ":"))


class _Connection:
    """One broadcaster and the pump tasks that drain its channels into the fan-out."""

    def __init__(self, url: str) -> None:
        self.backend = _SubscribeFirstBackend(url)
        self.broadcast = Broadcast(backend=self.backend)
        self.pumps: list[asyncio.Task[None]] = []

    def alive(self) -> bool:
        listener = getattr(self.broadcast, "_listener_task", None)
        return (
            self.backend.listening
            and listener is not None
            and not listener.done()
            and all(not p.done() for p in self.pumps)
        )

    async def close(self) -> None:
        for pump in self.pumps:
            pump.cancel()
        if self.pumps:
            # Leaving broadcaster's subscribe() unsubscribes, which may hang on a dead connection.
            await asyncio.wait(self.pumps, timeout=1.0)
            for pump in self.pumps:
                if pump.done() and not pump.cancelled():
                    pump.exception()  # retrieved: the connection is being replaced anyway
        with contextlib.suppress(Exception):  # never CancelledError: stop() must be able to cancel
            await asyncio.wait_for(self._disconnect(), 2.0)

    async def _disconnect(self) -> None:
        listener = getattr(self.broadcast, "_listener_task", None)
        if listener is not None:
            listener.cancel()
        await self.backend.disconnect()


class RedisBus:
    """`EventBus` for a process: one broadcaster, one Redis subscription per channel."""

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = 256,
        canary_interval: float = 2.0,
        publish_timeout: float = 0.5,
        max_backoff: float = 1.0,
        channels: Iterable[str] = tuple(Channel),
    ) -> None:
        self.url = url
        self.canary_interval = canary_interval
        self.publish_timeout = publish_timeout
        self.max_backoff = max_backoff
        self._channels = [str(c) for c in channels]
        self._canary_channel = f"celery_admin.canary.{uuid.uuid4().hex}"
        self._fanout = Fanout(queue_size)
        # A burst of publishes waits (within publish_timeout) for one of 16 connections.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=16,
            timeout=publish_timeout,
            socket_timeout=max(publish_timeout, 0.1) * 2,
            socket_connect_timeout=max(publish_timeout, 0.1),
            retry=Retry(NoBackoff(), 1),  # once, at once: a pooled connection may be stale
        )
        self._publisher = aioredis.Redis.from_pool(pool)
        self._connection: _Connection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._first_connect = asyncio.Event()
        self._connected = False
        self._reconnects = 0
        self._dropped = 0
        self._invalid = 0
        self._last_error: str | None = None
        self._last_canary = 0.0
        self._publish_blocked_until = 0.0
        self._stopping = False
        self._log = _RateLimitedLog()

    # -- the EventBus protocol ----------------------------------------------------------------

    async def publish(self, channel: Channel | str, message: dict[str, Any]) -> None:
        """Send one envelope; drop it (counted) if Redis does not take it within the timeout."""
        now = time.monotonic()
        if now < self._publish_blocked_until:
            self._drop("redis unavailable")
            return
        try:
            text = encode(message)
            await asyncio.wait_for(
                self._publisher.publish(str(channel), text), self.publish_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ConnectionError | OSError | RedisConnectionError):
                # Redis is unreachable: for a moment, drop without trying (no waiting producers).
                self._publish_blocked_until = time.monotonic() + min(1.0, self.max_backoff)
            self._drop(_short(exc))

    @asynccontextmanager
    async def subscribe(self, channel: Channel | str) -> AsyncIterator[Subscriber]:
        """`async with bus.subscribe(ch) as messages: async for m in messages: ...`

        Messages are shared between subscribers: treat them as read-only. Besides envelopes from
        producers, a subscriber may receive `bus.missed` notices (see `src.bus.fanout`)."""
        subscriber = self._fanout.add(str(channel))
        try:
            yield subscriber
        finally:
            self._fanout.remove(subscriber)

    async def start(self, wait: float = CONNECT_TIMEOUT) -> None:
        """Begin supervising the subscription; wait up to `wait` seconds for the first connect
        (a Redis that is down does not stop the process: the supervisor keeps trying)."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="event-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_connect.wait(), wait)

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._stopping = True
            deadline = time.monotonic() + 5.0
            # Cancel until it ends: asyncio.wait_for in Python 3.11 can lose one cancellation.
            while not self._supervisor.done() and time.monotonic() < deadline:
                self._supervisor.cancel()
                await asyncio.wait({self._supervisor}, timeout=0.2)
            self._supervisor = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self._connected = False
        self._fanout.close_all()
        with contextlib.suppress(Exception):
            await self._publisher.aclose()

    def health(self) -> BusHealth:
        stats = self._fanout.stats()
        return BusHealth(
            enabled=True,
            connected=self._connected,
            reconnects=self._reconnects,
            dropped=self._dropped,
            subscribers=stats.subscribers,
            missed=stats.missed,
            last_error=self._last_error,
        )

    def fanout_stats(self) -> FanoutStats:
        return self._fanout.stats()

    # -- receiving ----------------------------------------------------------------------------

    def _on_message(self, channel: str, text: str) -> None:
        if channel == self._canary_channel:
            self._last_canary = time.monotonic()
            return
        if not self._fanout.has(channel):
            return  # nobody here listens: do not even decode it
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("v") != ENVELOPE_VERSION:
            self._invalid += 1
            self._log.warning("invalid", "ignoring a message on %s that is not a v%d envelope",
                              channel, ENVELOPE_VERSION)  # fmt: skip
            return
        self._fanout.deliver(channel, message)

    async def _pump(self, conn: _Connection, channel: str, ready: asyncio.Future[None]) -> None:
        async with conn.broadcast.subscribe(channel) as events:
            ready.set_result(None)
            async for event in events:  # type: ignore[union-attr]
                if event is not None:
                    self._on_message(channel, event.message)

    # -- supervision --------------------------------------------------------------------------

    async def _connect(self) -> _Connection:
        conn = _Connection(self.url)
        try:
            await asyncio.wait_for(conn.broadcast.connect(), CONNECT_TIMEOUT)
            for channel in [self._canary_channel, *self._channels]:  # one after the other
                ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                pump = asyncio.create_task(self._pump(conn, channel, ready), name=f"bus:{channel}")
                conn.pumps.append(pump)
                await asyncio.wait({ready, pump}, timeout=CONNECT_TIMEOUT,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                if not ready.done():
                    error = pump.exception() if pump.done() else None
                    raise ConnectionError(f"could not subscribe to {channel}: {error or 'timeout'}")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _supervise(self) -> None:
        backoff = INITIAL_BACKOFF
        while not self._stopping:
            try:
                self._connection = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._last_error = _short(exc)
                self._log.warning("connect", "event bus cannot subscribe to Redis: %s",
                                  self._last_error)  # fmt: skip
                await asyncio.sleep(backoff * (1 + random.random() / 4))
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = INITIAL_BACKOFF
            if self._first_connect.is_set():
                self._reconnects += 1
                log.warning("event bus resubscribed to Redis (reconnect %d)", self._reconnects)
            self._connected = True
            self._publish_blocked_until = 0.0
            self._first_connect.set()
            reason = await self._watch(self._connection)
            self._connected = False
            self._last_error = reason
            log.warning("event bus lost its Redis subscription (%s); rebuilding", reason)
            self._fanout.interrupt_all()
            connection, self._connection = self._connection, None
            await connection.close()

    async def _watch(self, conn: _Connection) -> str:
        """Return (a reason) once the subscription is dead: a task ended or the canary is late."""
        self._last_canary = time.monotonic()
        canary = encode(
            {"v": ENVELOPE_VERSION, "type": CANARY_KIND, "at": time.time(), "data": None}
        )
        while True:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._publisher.publish(self._canary_channel, canary), self.canary_interval
                )
            deadline = time.monotonic() + self.canary_interval
            while time.monotonic() < deadline:
                if not conn.alive():
                    return "listener stopped"
                await asyncio.sleep(min(0.25, self.canary_interval))
            if time.monotonic() - self._last_canary > 3 * self.canary_interval:
                return "canary not received"

    def _drop(self, why: str) -> None:
        self._dropped += 1
        self._log.warning("publish", "event bus dropped a message (%s); %d dropped so far",
                          why, self._dropped)  # fmt: skip


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200]


__all__ = ["RedisBus", "encode"]
