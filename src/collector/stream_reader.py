"""The durable event source: task events from the workers' Redis Streams, acknowledged after the
rows they fed are written.

The worker-side extension (`celery_admin_events`) mirrors task events, and each task's exact
call, into one capped stream per shard of worker hostnames. This reader runs on the collector's
event loop as part of its leader job and reads every shard through one consumer group:

- At start it first takes over (`XAUTOCLAIM`, idle 0) whatever an earlier consumer (a collector
  that was killed, or lost the lease) read but never acknowledged, then reads new entries. Every
  `CLAIM_EVERY` seconds it claims entries left idle by any other consumer again.
- Entries are merged through the collector (`handle_batches`) and their ids kept until a flush:
  `take_acks()` is called in the same instant as the merger is drained, so an id is acknowledged
  (`XACK`) only once a write that includes its events succeeded; a failed write puts them back.
  A collector killed before that leaves them pending, and the next one replays them (upserts are
  idempotent).
- It reads only while the collector keeps up (fewer pending rows than a flush takes, database
  not failing): back pressure goes to the stream, not to memory.
- Workers seen as producers (`hostnames`) have their pub/sub copies of task events skipped by
  the collector, so each is merged once (clients' task-sent and workers without the extension
  still come from pub/sub).
- Each entry carries its producer and that producer's sequence number: a jump in the numbers is
  what fell off the stream's cap (or was dropped in the worker before reaching it) and is counted
  in `lost`. The last numbers seen are kept in Redis so a restart does not count twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sized
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import ResponseError

from celery_admin_events.layout import FIELD, GROUP, PRODUCERS_KEY, stream_keys
from src.collector.intake import Event, Item

log = logging.getLogger(__name__)

SEQ_KEY = "celery_admin:events-seq"  # producer -> last sequence number read
READ_COUNT = 2000
BLOCK_MS = 500
CLAIM_EVERY = 30.0
CLAIM_IDLE_MS = 60_000
BACKOFF_MAX = 5.0
PRODUCER_TTL = 7 * 86_400.0


class Sink(Protocol):
    """What the reader needs of the collector."""

    degraded: bool
    flush_rows: int

    @property
    def merger(self) -> Sized: ...

    async def handle_batches(self, batches: list[Item]) -> None: ...


Acks = dict[bytes, list[bytes]]


class StreamReader:
    def __init__(
        self,
        redis: aioredis.Redis,
        sink: Sink,
        *,
        shards: int,
        consumer: str | None = None,
    ) -> None:
        self.redis = redis
        self.sink = sink
        self.keys = [k.encode() for k in stream_keys(shards)]
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.connected = threading.Event()
        self.entries = 0
        self.acked = 0
        self.claimed = 0
        self.lost = 0  # sequence numbers never seen: fell off the cap or dropped in a worker
        self.bad_entries = 0
        self.errors = 0
        self.last_error: str | None = None
        self.source_dropped = 0  # what workers report they dropped (Redis down or slow)
        self._unacked: Acks = {}
        self._seq: dict[str, int] = {}
        # Workers whose task events the streams carry: their pub/sub copies are not merged again.
        self.hostnames: set[str] = set()
        self._seq_dirty: set[str] = set()

    # -- acknowledgement, driven by the collector's flush -------------------------------------

    def take_acks(self) -> Acks:
        """Ids whose events are all merged now: acknowledged once this flush succeeds."""
        taken, self._unacked = self._unacked, {}
        return taken

    def restore(self, acks: Acks) -> None:
        """A flush failed: these ids wait for the next one."""
        for key, ids in acks.items():
            self._unacked.setdefault(key, [])[:0] = ids

    async def ack(self, acks: Acks) -> None:
        """After a successful write; never raises (an unacknowledged entry is only replayed)."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, ids in acks.items():
                for start in range(0, len(ids), 10_000):
                    pipe.xack(key, GROUP, *ids[start : start + 10_000])
            if self._seq_dirty:
                pipe.hset(SEQ_KEY, mapping={p: self._seq[p] for p in self._seq_dirty})
            await pipe.execute()
            self._seq_dirty.clear()
            self.acked += sum(len(ids) for ids in acks.values())
        except Exception as exc:
            self.restore(acks)
            self._failed(exc)

    # -- reading ------------------------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._prepare()
                self.connected.set()
                await self._claim(min_idle_ms=0)
                last_claim = time.monotonic()
                backoff = 0.1
                while True:
                    await self._wait_for_room()
                    await self._read()
                    if time.monotonic() - last_claim > CLAIM_EVERY:
                        last_claim = time.monotonic()
                        await self._claim(min_idle_ms=CLAIM_IDLE_MS)
                        await self._read_producers()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                self._failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def _prepare(self) -> None:
        for key in self.keys:
            try:
                await self.redis.xgroup_create(key, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            await self._forget_consumers(key)
        stored = await self.redis.hgetall(SEQ_KEY)
        for producer, seq in stored.items():
            name = producer.decode() if isinstance(producer, bytes) else str(producer)
            self._seq[name] = max(self._seq.get(name, 0), int(seq))
            self.hostnames.add(_hostname(name))

    async def _forget_consumers(self, key: bytes) -> None:
        """Earlier collectors' consumer names, once they hold nothing (one per start, else)."""
        for consumer in await self.redis.xinfo_consumers(key, GROUP):
            name = consumer.get("name") or b""
            if (
                int(consumer.get("pending") or 0) == 0
                and int(consumer.get("idle") or 0) > 3_600_000
            ):
                await self.redis.xgroup_delconsumer(key, GROUP, name)

    async def _wait_for_room(self) -> None:
        """Polled: the merger has no event to wait on, and 50 ms is far below a flush interval."""
        sink = self.sink
        while True:
            if not sink.degraded and len(sink.merger) < sink.flush_rows:
                return
            await asyncio.sleep(0.05)

    async def _read(self) -> None:
        reply = await self.redis.xreadgroup(
            GROUP,
            self.consumer,
            {key: ">" for key in self.keys},
            count=READ_COUNT,
            block=BLOCK_MS,
        )
        items = reply.items() if isinstance(reply, dict) else (reply or [])
        for key, entries in items:
            await self._handle(key, entries)

    async def _claim(self, *, min_idle_ms: int) -> None:
        """Take over entries another consumer read but never acknowledged (bounded pages)."""
        for key in self.keys:
            start: Any = "0-0"
            for _ in range(1000):
                reply = await self.redis.xautoclaim(
                    key, GROUP, self.consumer, min_idle_ms, start_id=start, count=READ_COUNT
                )
                start, entries = reply[0], reply[1]
                if entries:
                    self.claimed += len(entries)
                    await self._wait_for_room()
                    await self._handle(key, entries)
                if start in (b"0-0", "0-0"):
                    break

    async def _handle(self, key: bytes | str, entries: list[Any]) -> None:
        key = key.encode() if isinstance(key, str) else key
        events: list[Event] = []
        ids: list[bytes] = []
        for entry_id, fields in entries:
            ids.append(entry_id)
            if not fields:  # trimmed while pending (Redis < 7 reports it so)
                continue
            try:
                event = json.loads(fields[FIELD])
                self._check_seq(event.pop("_p", None), event.pop("_n", None))
            except Exception:
                self.bad_entries += 1
                continue
            events.append(event)
        self.entries += len(ids)
        if events:
            await self.sink.handle_batches([events])
        # Recorded only now: a flush drains the merger and takes these in one go, so an id
        # taken by a flush had all its events merged before it.
        self._unacked.setdefault(key, []).extend(ids)

    def _check_seq(self, producer: Any, seq: Any) -> None:
        if not isinstance(producer, str) or not isinstance(seq, int):
            return
        last = self._seq.get(producer)
        if last is None:
            last = 0
            self.hostnames.add(_hostname(producer))
        if seq <= last:
            return  # replayed after a restart
        if seq > last + 1:
            self.lost += seq - last - 1
            log.warning("durable events: %d event(s) of %s missing", seq - last - 1, producer)
        self._seq[producer] = seq
        self._seq_dirty.add(producer)

    async def _read_producers(self) -> None:
        """Sum what the workers report they dropped before writing (best effort), and forget
        producers (worker process lives) silent for a week, in both hashes."""
        with contextlib.suppress(Exception):
            raw = await self.redis.hgetall(PRODUCERS_KEY)
            total = 0
            stale: list[Any] = []
            for producer, value in raw.items():
                report = json.loads(value)
                total += int(report.get("dropped") or 0)
                if time.time() - float(report.get("at") or 0) > PRODUCER_TTL:
                    stale.append(producer)
            self.source_dropped = total
            if stale:
                await self.redis.hdel(PRODUCERS_KEY, *stale)
                await self.redis.hdel(SEQ_KEY, *stale)
                for producer in stale:
                    name = producer.decode() if isinstance(producer, bytes) else str(producer)
                    self._seq.pop(name, None)
                    self._seq_dirty.discard(name)

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        error = f"{type(exc).__name__}: {exc}"
        if error != self.last_error:
            log.warning("durable event stream: %s", error)
        self.last_error = error

    def status(self) -> dict[str, Any]:
        return {
            "source": "stream",
            "connected": self.connected.is_set(),
            "consumer": self.consumer,
            "entries": self.entries,
            "acked": self.acked,
            "unacked": sum(len(ids) for ids in self._unacked.values()),
            "claimed": self.claimed,
            "lost": self.lost,
            "bad_entries": self.bad_entries,
            "source_dropped": self.source_dropped,
            "errors": self.errors,
            "last_error": self.last_error,
        }


def _hostname(producer: str) -> str:
    """A producer id is `<hostname>/<pid>/<nonce>` (celery_admin_events.mirror)."""
    return producer.rsplit("/", 2)[0]


__all__ = ["SEQ_KEY", "StreamReader"]
