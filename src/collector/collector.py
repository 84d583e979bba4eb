"""The collector: reader thread -> intake -> merge -> batched upserts, plus worker tracking.

`Collector.run()` is a leader job (see `src/leadership.py`): it starts the reader thread,
reconciles, then runs three loops on the event loop until cancelled:

- consume: takes decoded batches from the intake, merges task events, tracks worker events,
  publishes state changes on the bus. Pure memory work, yielding every few thousand events.
- flush: about every `flush_interval` seconds (sooner when many tasks are pending) drains the
  merged rows and upserts them. When the database fails, the rows go back into the merge buffer
  (bounded: see `TaskMerger`), the collector reports itself degraded and retries with backoff;
  the reader is never affected.
- sweep: once a second, workers whose heartbeats stopped go offline (and their STARTED tasks
  LOST), worker state and the collector's status are written to Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.bus import Channel, EventBus, NullBus, envelope
from src.collector import reconcile
from src.collector.decode import PubSubDecoder
from src.collector.gaps import record_gap
from src.collector.intake import Event, Intake, Item
from src.collector.merge import TaskMerger
from src.collector.readers import reader_for
from src.collector.store import TaskStore
from src.collector.worker_tracker import HEARTBEAT, OFFLINE, ONLINE, WorkerTracker
from src.collector.workers_registry import PREFIX, read_workers, write_workers
from src.control.inspector import Inspector

log = logging.getLogger(__name__)

STATUS_KEY = PREFIX + "collector:status"
STATUS_TTL = 30
YIELD_EVERY = 4096
_TASK_FIELDS = ("name", "state", "worker", "queue", "retries", "runtime", "exception")


class Collector:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        app: Any = None,
        broker_url: str | None = None,
        redis: aioredis.Redis | None = None,
        result_redis: aioredis.Redis | None = None,
        inspector: Inspector | None = None,
        bus: EventBus | None = None,
        on_worker_online: Callable[[str], Awaitable[None]] | None = None,
        flush_interval: float = 0.5,
        flush_rows: int = 20_000,
        max_pending: int = 50_000,
        intake_events: int = 500_000,
        reconcile_keys: int = 20_000,
        heartbeat_slack: float = 2.0,
    ) -> None:
        self.engine = engine
        self.app = app
        self.broker_url = broker_url
        self.redis = redis
        self.result_redis = result_redis
        self.inspector = inspector
        self.bus: EventBus = bus or NullBus()
        self.on_worker_online = on_worker_online
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.intake_events = intake_events
        self.reconcile_keys = reconcile_keys
        self.merger = TaskMerger(max_pending=max_pending)
        self.store = TaskStore(engine)
        self.workers = WorkerTracker(slack=heartbeat_slack)
        self.intake: Intake | None = None
        self.frames = PubSubDecoder()
        self.reader: Any = None
        self.degraded = False
        self.last_error: str | None = None
        self.last_flush_at: float | None = None
        self.events = 0
        self.bad_events = 0
        self.gaps = 0
        self._flushing: asyncio.Task[bool] | None = None
        self._lost_queue: list[tuple[str, float]] = []
        self._hooks: set[asyncio.Future[None]] = set()
        self._down_since: float | None = None  # when the event stream was lost
        self._down_error = ""
        self.started_at = time.time()

    # -- event handling (also used directly by the ingest benchmark) -------------------------

    async def handle_batches(self, batches: list[Item]) -> None:
        """Merge decoded batches and raw pub/sub chunks (decoded here), in arrival order."""
        apply = self.merger.apply
        live = not isinstance(self.bus, NullBus)  # nobody listens: skip building messages
        count = 0
        for item in batches:
            batch: list[Event] = self.frames.feed(item) if isinstance(item, bytes) else item
            for event in batch:
                try:
                    kind = event.get("type", "")
                    if kind.startswith("task-"):
                        state = apply(event)
                        if state is not None and live:
                            await self._publish_task(state, event)
                    elif kind.startswith("worker-"):
                        await self._worker_event(event)
                    elif kind.startswith("collector-"):
                        await self._connection_event(event)
                except Exception:  # one malformed event must not stop collection
                    self.bad_events += 1
                    log.debug("bad event skipped: %r", event, exc_info=True)
                count += 1
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        self.events += count
        if len(self.merger) >= self.flush_rows and not self.degraded:
            self._start_flush()
        await asyncio.sleep(0)  # let the flush and the sweep progress between batches

    async def _publish_task(self, state: str, event: Event) -> None:
        row = self.merger.pending.get(event["uuid"])
        if row is not None:
            data = {"task_id": row["task_id"], "timestamp": event["timestamp"]}
            for key in _TASK_FIELDS:
                data[key] = row.get(key)
            await self.bus.publish(Channel.TASKS, envelope("task-" + state.lower(), data))

    def _start_flush(self) -> asyncio.Task[bool]:
        """One flush at a time; it runs while the consumer keeps merging (never waiting on it)."""
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self.flush(), name="collector-flush-batch")
        return self._flushing

    async def _worker_event(self, event: Event) -> None:
        change = self.workers.apply(event)
        if change is None:
            return
        state = self.workers.workers[event["hostname"]]
        if change != HEARTBEAT or not isinstance(self.bus, NullBus):
            await self.bus.publish(Channel.WORKERS, envelope("worker-" + change, state.public()))
        if change == ONLINE and self.on_worker_online is not None:
            hook = asyncio.ensure_future(self.on_worker_online(state.hostname))
            self._hooks.add(hook)
            hook.add_done_callback(self._hooks.discard)
        elif change == OFFLINE:
            self._worker_gone(state.hostname, time.time())

    def _worker_gone(self, hostname: str, at: float) -> None:
        for task_id in self.merger.started_on(hostname):
            self.merger.mark_lost(task_id, hostname, at)
        self._lost_queue.append((hostname, at))  # stored rows: after the next flush

    async def _connection_event(self, event: Event) -> None:
        if event["type"] == "collector-connected":
            self.frames.reset()
        if event["type"] == "collector-disconnected":
            if self._down_since is None:
                self._down_since = event["at"]
                self._down_error = event.get("error", "")
            return
        if event["type"] != "collector-connected" or self._down_since is None:
            return
        gap = {"start": self._down_since, "end": event["at"], "error": self._down_error}
        self._down_since = None
        self.gaps += 1
        log.warning(
            "no events from %s to %s (%.1f s): %s",
            time.strftime("%H:%M:%S", time.gmtime(gap["start"])),
            time.strftime("%H:%M:%S", time.gmtime(gap["end"])),
            gap["end"] - gap["start"],
            gap["error"],
        )
        try:
            await record_gap(self.redis, gap)
        except Exception as exc:
            log.warning("could not record broker gap: %s", exc)

    # -- flushing -----------------------------------------------------------------------------

    async def flush(self) -> bool:
        """Write what is pending; on failure keep it for the next attempt. True when written."""
        rows = self.merger.drain()
        try:
            await self.store.upsert(rows)
            lost, self._lost_queue = self._lost_queue, []
            try:
                for hostname, at in lost:
                    ids = await self.store.mark_lost(hostname, at)
                    if ids:
                        log.info("%d task(s) of %s marked LOST", len(ids), hostname)
                        for task_id in ids:
                            data = {"task_id": task_id, "state": "LOST", "worker": hostname}
                            await self.bus.publish(Channel.TASKS, envelope("task-lost", data))
            except Exception:
                self._lost_queue[:0] = lost
                raise
        except Exception as exc:
            self.merger.restore(rows)
            if not self.degraded:
                log.warning("task store unavailable, buffering (%d pending): %s", len(rows), exc)
            self.degraded = True
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        if self.degraded:
            log.warning("task store back; collector no longer degraded")
        self.degraded = False
        self.last_error = None
        self.last_flush_at = time.time()
        return True

    async def _flush_loop(self) -> None:
        """Flush at least every `flush_interval`; after a failure, back off up to 10 s."""
        backoff = self.flush_interval
        while True:
            await asyncio.sleep(backoff)
            ok = await asyncio.shield(self._start_flush())
            backoff = self.flush_interval if ok else min(max(backoff * 2, 0.5), 10.0)

    async def _consume_loop(self) -> None:
        assert self.intake is not None
        while True:
            await self.handle_batches(await self.intake.get())

    # -- workers and status -------------------------------------------------------------------

    async def sweep(self) -> None:
        for state in self.workers.expired():
            log.info("worker %s missed its heartbeats: offline", state.hostname)
            await self.bus.publish(Channel.WORKERS, envelope("worker-offline", state.public()))
            self._worker_gone(state.hostname, state.offline_at or time.time())
        if self.redis is None:
            return
        dirty = self.workers.take_dirty()
        try:
            await write_workers(self.redis, dirty)
            await self.redis.set(STATUS_KEY, json.dumps(self.status()), ex=STATUS_TTL)
        except Exception as exc:
            self.workers.dirty.update(d["hostname"] for d in dirty)
            log.debug("worker registry write failed: %s", exc)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await self.sweep()

    def status(self) -> dict[str, Any]:
        reader = self.reader
        return {
            "connected": bool(reader and reader.connected.is_set()),
            "degraded": self.degraded,
            "last_error": self.last_error,
            "events": self.events,
            "pending_tasks": len(self.merger),
            "dropped_overflow": self.merger.overflow_dropped,
            "dropped_intake": self.intake.dropped if self.intake else 0,
            "bad_events": self.bad_events,
            "decode_errors": self.frames.errors + (reader.decoder.errors if reader else 0),
            "messages": self.frames.messages + (reader.messages if reader else 0),
            "rows_written": self.store.rows_written,
            "last_flush_at": self.last_flush_at,
            "gaps": self.gaps,
            "started_at": self.started_at,
            "updated_at": time.time(),
        }

    # -- lifecycle ----------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Merge what workers and the result backend know (see `reconcile.py`)."""
        events: list[Event] = []
        if self.inspector is not None:
            events += await reconcile.from_workers(self.inspector)
        if self.result_redis is not None:
            try:
                events += await reconcile.from_result_backend(
                    self.result_redis, max_keys=self.reconcile_keys
                )
            except Exception as exc:
                log.info("reconcile: result backend scan failed: %s", exc)
        if events:
            await self.handle_batches([events])
        log.info("reconciled %d task(s) from workers and results", len(events))
        return len(events)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.intake = Intake(loop, self.intake_events)
        assert self.broker_url is not None
        self.reader = reader_for(self.app, self.broker_url, self.intake)
        with contextlib.suppress(Exception):
            self.workers.load(await read_workers(self.redis))
        self.reader.start()
        jobs = [
            asyncio.create_task(self._consume_loop(), name="collector-consume"),
            asyncio.create_task(self._flush_loop(), name="collector-flush"),
            asyncio.create_task(self._sweep_loop(), name="collector-sweep"),
        ]
        try:
            # Subscribed first, so nothing falls between what reconciling sees and the stream.
            for _ in range(50):
                if self.reader.connected.is_set():
                    break
                await asyncio.sleep(0.1)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconcile failed")
            await asyncio.gather(*jobs)
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await loop.run_in_executor(None, self.reader.stop)
            while self.intake.qsize():
                await self.handle_batches(await self.intake.get())
            with contextlib.suppress(Exception):
                if self._flushing is not None:
                    await asyncio.wait_for(self._flushing, timeout=10)
                await asyncio.wait_for(self.flush(), timeout=10)


async def read_status(redis: aioredis.Redis | None) -> dict[str, Any] | None:
    """The leading collector's latest status (any replica may ask; None when none runs)."""
    if redis is None:
        return None
    try:
        raw = await redis.get(STATUS_KEY)
    except Exception:
        return None
    return json.loads(raw) if raw else None


def collector_for(services: Any) -> Collector:
    """A collector wired to a process's services."""
    return Collector(
        engine=services.engine,
        app=services.app,
        broker_url=services.broker_url,
        redis=services.state_redis,
        result_redis=services.result_redis,
        inspector=services.inspector,
        bus=services.bus,
        on_worker_online=services.worker_online,
    )


__all__ = ["STATUS_KEY", "Collector", "collector_for", "read_status"]
