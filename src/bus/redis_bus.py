"""The event bus over `broadcaster` on Redis pub/sub, with the guardrails broadcaster lacks.

broadcaster 0.3.1 with redis-py 8 has four problems, each handled here:
- its Redis backend marks itself ready before SUBSCRIBE completes, so its listener exits at once and
  nothing is ever delivered: `SubscribeFirstBackend` (src/bus/broadcaster_adapter.py, the one place
  that touches broadcaster's private parts) subscribes, then sets ready;
- after a longer Redis outage its listener dies and subscribers wait forever: a canary message on a
  private channel every `canary_interval` seconds must come back within three intervals, else (or
  when a listener task has ended) the whole broadcaster is rebuilt, with backoff while Redis is down,
  and every local subscriber is told that messages may be missing;
- its per-subscriber queues are unbounded: the process subscribes ONCE per channel (broadcaster's one
  queue per channel is drained at once) and fans out to bounded queues (`src.bus.fanout`);
- concurrent first subscribes to one channel can lose one: channels are subscribed one after the
  other, all at start-up, and never unsubscribed.

High-rate producers (the collector) use `offer(channel, messages)` instead: a non-blocking hand-off
to a sender task that sends one message per batch and drops-and-counts when it falls behind
(`src.bus.outbox`), and they ask `wants(channel)` first, which is false while no replica has a
subscriber on it (`src.bus.presence`). A process that serves no subscribers (`celery-admin collect`)
passes `channels=()` and never reads back what it publishes.

Bounded in time as well as size: a batch that waited more than `max_wait` seconds to be sent, or
that was read from Redis more than `max_wait` seconds ago while more wait behind it (this process
is falling behind, e.g. a CPU-bound overload), is not delivered late: it is dropped, counted, and
subscribers get one missed notice with its exact count in its place.

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
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import orjson
from broadcaster import Broadcast
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from src.bus import presence
from src.bus.base import ENVELOPE_VERSION, BusHealth, Channel
from src.bus.broadcaster_adapter import SubscribeFirstBackend, arrived_at, listener_task
from src.bus.fanout import BUS_INTERRUPTED, Fanout, FanoutStats, Subscriber, missed_notice
from src.bus.outbox import BATCH_KIND, Outbox

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
LOG_INTERVAL = 30.0  # at most one log line per kind of trouble per this many seconds
INITIAL_BACKOFF = 0.25
CANARY_KIND = "bus.canary"
# How long a replica's first subscriber on a channel waits for a producer to see it (once per
# channel and replica; a producer looks every presence.REFRESH seconds).
PRESENCE_WAIT = 3.0
# A live update older than this (waiting to be sent, or read but not yet handed to subscribers
# while more wait) is dropped with a missed notice instead of delivered late.
MAX_WAIT = 2.0


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
        self.backend = SubscribeFirstBackend(url, connect_timeout=CONNECT_TIMEOUT)
        self.broadcast = Broadcast(backend=self.backend)
        self.pumps: list[asyncio.Task[None]] = []
        self.handled = 0  # messages the pumps took from broadcaster (of backend.arrivals)

    def alive(self) -> bool:
        listener = listener_task(self.broadcast)
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
        listener = listener_task(self.broadcast)
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
        outbox_messages: int = 100_000,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.url = url
        self.canary_interval = canary_interval
        self.publish_timeout = publish_timeout
        self.max_backoff = max_backoff
        self.max_wait = max_wait
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
        self._late = 0  # messages read from Redis too late to deliver (this process was behind)
        self._last_error: str | None = None
        self._last_canary = 0.0
        self._publish_blocked_until = 0.0
        self._stopping = False
        self._log = _RateLimitedLog()
        self.replica = uuid.uuid4().hex
        self._outbox = Outbox(self._send_batch, max_messages=outbox_messages, max_wait=max_wait)
        self._sender: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watched: set[str] = set()
        self._announced: set[str] = set()

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

    def wants(self, channel: Channel | str) -> bool:
        """Whether some replica (this one included) has a subscriber on `channel` (cached)."""
        if self._watcher is None and self._supervisor is not None:
            self._watcher = asyncio.create_task(self._watch_presence(), name="event-bus-presence")
        name = str(channel)
        return name in self._watched or self._fanout.has(name)

    def offer(self, channel: Channel | str, messages: list[dict[str, Any]]) -> bool:
        """Hand a batch's messages to the sender; never waits (False: dropped and counted)."""
        return self._outbox.put(str(channel), messages)

    async def _send_batch(self, channel: str, payload: bytes) -> None:
        if time.monotonic() < self._publish_blocked_until:
            raise ConnectionError("redis unavailable")
        try:
            await asyncio.wait_for(self._publisher.publish(channel, payload), self.publish_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ConnectionError | OSError | RedisConnectionError):
                self._publish_blocked_until = time.monotonic() + min(1.0, self.max_backoff)
            self._log.warning("publish", "event bus dropped a batch (%s); %d dropped so far",
                              _short(exc), self._dropped + self._outbox.dropped)  # fmt: skip
            raise

    async def _watch_presence(self) -> None:
        channels = [str(c) for c in Channel]
        while True:
            try:
                self._watched, at = await presence.watched(self._publisher, channels)
                await presence.mark_seen(self._publisher, self.replica, at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis is away: keep sending (subscribers are told)
                self._watched = set(channels)
                self._log.warning("presence", "bus presence unreadable: %s", _short(exc))
            await asyncio.sleep(presence.REFRESH)

    @asynccontextmanager
    async def subscribe(
        self,
        channel: Channel | str,
        *,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        key: Hashable | None = None,
    ) -> AsyncIterator[Subscriber]:
        """`async with bus.subscribe(ch) as messages: async for m in messages: ...`

        Messages are shared between subscribers: treat them as read-only. Besides envelopes from
        producers, a subscriber may receive `bus.missed` notices (see `src.bus.fanout`). With
        `accept`, only messages it accepts are queued (evaluated once per `key`)."""
        name = str(channel)
        first = not self._fanout.has(name)
        subscriber = self._fanout.add(name, accept, key)
        try:
            if first:
                await self._announce_first(name)
            yield subscriber
        finally:
            self._fanout.remove(subscriber)
            if not self._fanout.has(name) and name in self._announced:
                self._announced.discard(name)
                with contextlib.suppress(Exception):  # else it expires (presence.TTL)
                    await asyncio.wait_for(
                        presence.withdraw(self._publisher, self.replica, [name]),
                        self.publish_timeout,
                    )

    async def _announce_first(self, channel: str) -> None:
        """Tell producers this replica now listens on `channel`, and wait (bounded) until one has
        seen it, so that nothing published after subscribe() returns is skipped."""
        self._announced.add(channel)
        try:
            await asyncio.wait_for(
                presence.announce(self._publisher, self.replica, [channel]), self.publish_timeout
            )
            since = time.time()  # a look that began after this counts the announcement
            await presence.wait_seen(self._publisher, since, within=PRESENCE_WAIT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.warning("presence", "bus presence not written: %s", _short(exc))

    async def _refresh_presence(self) -> None:
        live = {c for c in self._channels if self._fanout.has(c)}
        gone = self._announced - live
        self._announced = live
        with contextlib.suppress(Exception):
            if live:
                await presence.announce(self._publisher, self.replica, live)
            if gone:
                await presence.withdraw(self._publisher, self.replica, gone)

    async def start(self, wait: float = CONNECT_TIMEOUT) -> None:
        """Begin supervising the subscription; wait up to `wait` seconds for the first connect
        (a Redis that is down does not stop the process: the supervisor keeps trying)."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="event-bus")
            self._sender = asyncio.create_task(self._outbox.run(), name="event-bus-sender")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_connect.wait(), wait)

    async def stop(self) -> None:
        for task in (self._sender, self._watcher):
            if task is not None:
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
        self._sender = self._watcher = None
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
            dropped=self._dropped + self._outbox.dropped + self._late,
            subscribers=stats.subscribers,
            missed=stats.missed,
            last_error=self._last_error,
        )

    def fanout_stats(self) -> FanoutStats:
        return self._fanout.stats()

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    # -- receiving ----------------------------------------------------------------------------

    def _on_message(self, channel: str, text: str, waited: float = 0.0, behind: int = 0) -> None:
        """One message read from Redis, `waited` seconds ago, with `behind` more read since."""
        if channel == self._canary_channel:
            self._last_canary = time.monotonic()
            return
        if not self._fanout.has(channel):
            return  # nobody here listens: do not even decode it
        try:
            message = orjson.loads(text)
        except ValueError:
            message = None
        if waited > self.max_wait and behind > 0 and isinstance(message, dict):
            self._too_late(channel, message)
            return
        if isinstance(message, dict) and message.get("type") == BATCH_KIND:
            self._on_batch(channel, message)
            return
        if not isinstance(message, dict) or message.get("v") != ENVELOPE_VERSION:
            self._invalid += 1
            self._log.warning("invalid", "ignoring a message on %s that is not a v%d envelope",
                              channel, ENVELOPE_VERSION)  # fmt: skip
            return
        self._fanout.deliver(channel, message)

    def _too_late(self, channel: str, message: dict[str, Any]) -> None:
        """Falling behind: say how many updates this was instead of delivering them late (and
        spend nothing on filters and queues, so the pump catches up)."""
        late, missed = 1, 0
        if message.get("type") == BATCH_KIND:
            data, dropped = message.get("data"), message.get("missed")
            late = len(data) if isinstance(data, list) else 0
            # dropped by the producer before sending: counted there, announced here
            missed = dropped if isinstance(dropped, int) and dropped > 0 else 0
        self._late += late
        if late:
            self._log.warning("late", "event bus reader is behind: dropped %d late updates "
                              "(%d so far)", late, self._late)  # fmt: skip
        if late + missed:
            self._fanout.deliver(channel, missed_notice(late + missed, BUS_INTERRUPTED))

    def _on_batch(self, channel: str, batch: dict[str, Any]) -> None:
        missed, messages = batch.get("missed"), batch.get("data")
        if isinstance(missed, int) and missed > 0:  # the producer dropped these: say so, here
            self._fanout.deliver(channel, missed_notice(missed, BUS_INTERRUPTED))
        if isinstance(messages, list):
            self._fanout.deliver_many(channel, messages)

    async def _pump(self, conn: _Connection, channel: str, ready: asyncio.Future[None]) -> None:
        async with conn.broadcast.subscribe(channel) as events:
            ready.set_result(None)
            async for event in events:  # type: ignore[union-attr]
                if event is not None:
                    conn.handled += 1
                    arrived = arrived_at(event)
                    waited = time.monotonic() - arrived if arrived is not None else 0.0
                    behind = conn.backend.arrivals - conn.handled
                    self._on_message(channel, event.message, waited, behind)

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
            if self._announced or any(self._fanout.has(c) for c in self._channels):
                await self._refresh_presence()
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
