"""The worker-side writer: task events into capped Redis Streams, off the worker's own path.

`put` only appends to a bounded deque (never blocks, never raises); one daemon thread per
process writes batches with pipelined `XADD MAXLEN ~`. When Redis is slow or down the deque
fills and further events are dropped and counted; the sequence numbers they took leave a gap the
collector counts, so loss is never silent. A failed batch is retried with backoff while the
worker goes on running tasks at full speed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from typing import Any

import redis

from celery_admin_events.layout import FIELD, PRODUCERS_KEY, shard_of, stream_key

log = logging.getLogger(__name__)

BATCH = 500
REPORT_EVERY = 5.0  # seconds between writes of this producer's counters
BACKOFF_MAX = 5.0


class Mirror:
    def __init__(
        self,
        url: str,
        *,
        shards: int,
        maxlen: int,
        max_buffer: int = 100_000,
    ) -> None:
        self.url = url
        self.shards = shards
        self.maxlen = maxlen
        self.pid = os.getpid()
        self.buffer: deque[tuple[str, bytes]] = deque()
        self.max_buffer = max_buffer
        self.sent = 0
        self.dropped = 0
        self.write_errors = 0
        self._seq: dict[str, int] = {}  # hostname -> last sequence number given
        self._producer: dict[str, str] = {}  # hostname -> producer id (one per process life)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: redis.Redis | None = None

    # -- the worker's side: cheap, bounded, never raises -------------------------------------

    def put(self, hostname: str, event: dict[str, Any]) -> None:
        try:
            with self._lock:
                producer = self._producer.get(hostname)
                if producer is None:
                    producer = f"{hostname}/{self.pid}/{uuid.uuid4().hex[:8]}"
                    self._producer[hostname] = producer
                seq = self._seq[hostname] = self._seq.get(hostname, 0) + 1
                if len(self.buffer) >= self.max_buffer:
                    self.dropped += 1  # its number is skipped: the reader sees the gap
                    return
                event["_p"], event["_n"] = producer, seq
                key = stream_key(shard_of(hostname, self.shards))
                self.buffer.append((key, json.dumps(event, default=repr).encode()))
            if self._thread is None:
                self.start()
            self._wake.set()
        except Exception:  # the worker must never fail because of the mirror
            self.dropped += 1
            log.debug("celery_admin_events: event not mirrored", exc_info=True)

    # -- the writer thread ------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="celery-admin-events", daemon=True
            )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Write what is buffered (at most `timeout` seconds), then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
        return self._client

    def _take(self) -> list[tuple[str, bytes]]:
        with self._lock:
            n = min(BATCH, len(self.buffer))
            return [self.buffer.popleft() for _ in range(n)]

    def _run(self) -> None:
        batch: list[tuple[str, bytes]] = []
        backoff = 0.1
        reported = 0.0
        while True:
            if not batch:
                batch = self._take()
            if not batch:
                if self._stop.is_set():
                    break
                self._wake.wait(0.5)
                self._wake.clear()
            else:
                try:
                    self._write(batch)
                    self.sent += len(batch)
                    batch = []
                    backoff = 0.1
                except Exception as exc:
                    self.write_errors += 1
                    if self.write_errors == 1 or self.write_errors % 100 == 0:
                        log.warning("celery_admin_events: Redis write failed: %s", exc)
                    self._client = None
                    if self._stop.is_set():
                        break
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
            if time.monotonic() - reported > REPORT_EVERY:
                reported = time.monotonic()
                self._report()
        self._report()

    def _write(self, batch: list[tuple[str, bytes]]) -> None:
        pipe = self._redis().pipeline(transaction=False)
        for key, data in batch:
            pipe.xadd(key, {FIELD: data}, maxlen=self.maxlen, approximate=True)
        pipe.execute()

    def _report(self) -> None:
        """This process's counters, for the collector's status (best effort)."""
        try:
            counters = self.counters()
            now = time.time()
            mapping: dict[Any, Any] = {
                p: json.dumps(counters | {"at": now}) for p in self._producer.values()
            }
            if mapping:
                self._redis().hset(PRODUCERS_KEY, mapping=mapping)
        except Exception:
            self._client = None

    def counters(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "buffered": len(self.buffer),
            "write_errors": self.write_errors,
        }


__all__ = ["Mirror"]
