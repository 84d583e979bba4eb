"""The collector: reader thread -> intake -> merge -> batched upserts, plus worker tracking.

`Collector.run()` is a leader job (see `src/leadership.py`): it starts the reader thread,
reconciles, then runs three loops on the event loop until cancelled:

- consume: takes decoded batches from the intake, merges task events, tracks worker events,
  and hands each batch's state changes to the bus in one non-blocking call (`bus.offer`), and
  only when some replica has a subscriber (`bus.wants`). Pure memory work, yielding every few
  thousand events.
- flush: about every `flush_interval` seconds (sooner when many tasks are pending) drains the
  merged rows and upserts them. When the database fails, the rows go back into the merge buffer
  (bounded: see `TaskMerger`), the collector reports itself degraded and retries with backoff;
  the reader is never affected.
- sweep: once a second, workers whose heartbeats stopped go offline (and their STARTED tasks
  LOST), worker state and the collector's status are written to Redis.

Loss is never silent: every place that drops (the intake's budget, the merge buffer's cap, the
bus's hand-off, a malformed or cut frame, a gap in the durable stream) is counted in events
(`dropped_events()`, by reason, see `drops.py`), shown in the status key, systemStatus and
/metrics; while anything drops the collector reports itself `dropping` and `degraded` (an alert
rule of kind `collector_dropping` fires on it), and once drops stop for `RECONCILE_AFTER` seconds
it reconciles from the workers and the result backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from typing import Any

from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.bus import Channel, EventBus, NullBus, envelope
from src.bus.base import ENVELOPE_VERSION
from src.collector import reconcile
from src.collector.decode import PubSubDecoder
from src.collector.drops import HISTORY_DROPS
from src.collector.gaps import record_gap
from src.collector.intake import Dropped, Event, Intake, Item
from src.collector.merge import TaskMerger
from src.collector.readers import reader_for
from src.collector.settle import Settler
from src.collector.store import TaskStore
from src.collector.stream_reader import StreamReader
from src.collector.worker_tracker import OFFLINE, ONLINE, WorkerTracker
from src.collector.workers_registry import PREFIX, read_workers, write_workers
from src.control.inspector import Inspector

log = logging.getLogger(__name__)

STATUS_KEY = PREFIX + "collector:status"
STATUS_TTL = 30
YIELD_EVERY = 4096
DROPPING_FOR = 15.0  # seconds a drop keeps the collector `dropping` (and degraded)
RECONCILE_AFTER = 5.0  # seconds without drops before the affected tasks are reconciled
_TASK_FIELDS = (
    "name", "state", "worker", "queue", "retries", "runtime", "exception",
    "received_at", "started_at", "finished_at",
)  # fmt: skip


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
        reader_options: dict[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.reader_options = reader_options or {}  # for the broker's reader (see reader_for)
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
        self.durable: StreamReader | None = None  # EVENT_SOURCE=stream (see stream_reader.py)
        self.settler: Settler | None = None
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
        self._term = asyncio.Lock()  # leadership terms run one after the other (see run())
        self._down_since: float | None = None  # when the event stream was lost
        self._down_error = ""
        self.started_at = time.time()
        self._last_drop_total = 0
        self._last_drop_at: float | None = None
        self._reconcile_pending = False
        self.reconciles = 0

    # -- event handling (also used directly by the ingest benchmark) -------------------------

    async def handle_batches(
        self, batches: list[Item], *, streamed: AbstractSet[str] = frozenset()
    ) -> None:
        """Merge decoded batches and raw pub/sub chunks (decoded here), in arrival order.
        `streamed`: hostnames whose task events the durable streams carry; their copies from the
        broker's pub/sub are skipped (one set lookup), so each event is merged once. A client's
        task-sent and the events of workers without the extension still come from pub/sub."""
        apply = self.merger.apply
        bus = self.bus
        # Nobody listens anywhere: skip building messages.
        live = bus.wants(Channel.TASKS)
        out: list[dict[str, Any]] = []
        merger = self.merger
        now = time.time()
        count = 0
        for item in batches:
            if item.__class__ is bytes:
                batch: list[Event] = self.frames.feed(item)
            elif item.__class__ is list:
                batch = item
            else:
                assert isinstance(item, Dropped)
                self.frames.cut(item.messages, item.bytes, item.started_at, item.ended_at)
                continue
            for event in batch:
                try:
                    kind = event.get("type", "")
                    if kind.startswith("task-"):
                        # durable mode: a streamed worker's copy is merged from its stream
                        skip = streamed and event.get("hostname") in streamed
                        state = None if skip else apply(event)
                        if state is not None and live:
                            out.append(
                                _task_message(state, merger.pending[event["uuid"]], event, now)
                            )
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
        if out:
            bus.offer(Channel.TASKS, out)
        self.events += count
        if self.frames.has_gaps():
            await self._record_frame_gaps()
        if len(self.merger) >= self.flush_rows and not self.degraded:
            self._start_flush()
        await asyncio.sleep(0)  # let the flush and the sweep progress between batches

    async def _record_frame_gaps(self) -> None:
        for gap in self.frames.take_gaps():
            self.gaps += 1
            try:
                await record_gap(self.redis, gap)
            except Exception as exc:
                log.warning("could not record event gap: %s", exc)

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
        if self.bus.wants(Channel.WORKERS):
            self.bus.offer(Channel.WORKERS, [envelope("worker-" + change, state.public())])
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
        acks = self.durable.take_acks() if self.durable is not None else None  # same instant
        try:
            await self.store.upsert(rows)
            lost, self._lost_queue = self._lost_queue, []
            try:
                for hostname, at in lost:
                    ids = await self.store.mark_lost(hostname, at)
                    if ids:
                        log.info("%d task(s) of %s marked LOST", len(ids), hostname)
                        if self.bus.wants(Channel.TASKS):
                            self.bus.offer(
                                Channel.TASKS,
                                [
                                    envelope(
                                        "task-lost",
                                        {"task_id": i, "state": "LOST", "worker": hostname},
                                    )
                                    for i in ids
                                ],
                            )
            except Exception:
                self._lost_queue[:0] = lost
                raise
        except Exception as exc:
            self.merger.restore(rows)
            if acks is not None and self.durable is not None:
                self.durable.restore(acks)
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
        if acks and self.durable is not None:
            await self.durable.ack(acks)  # only now: the rows are written
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
        # Durable mode: the streams' hostnames (a live set, growing as producers appear).
        streamed = self.durable.hostnames if self.durable is not None else frozenset()
        while True:
            await self.handle_batches(await self.intake.get(), streamed=streamed)

    # -- workers and status -------------------------------------------------------------------

    def dropped_events(self) -> dict[str, int]:
        """Events lost so far, by where (the `reason` of the /metrics counter).

        `intake`: raw chunks over the intake's budget, counted in pub/sub messages (one event
        each from solo/threads pools; a prefork hub's buffered message holds several, counted
        here at the average events per message seen) plus event batches (kombu path);
        `frames`: messages in malformed or cut frames; `overflow`: new tasks over the merge
        buffer's cap; `bus`: live messages subscribers did not get (the bus's hand-off);
        `stream_gap`: durable mode, events never seen (see `StreamReader.lost`)."""
        reader = self.reader
        messages = self.frames.messages + (reader.messages if reader else 0)
        per_message = self.events / messages if messages else 1.0
        per_message = max(per_message, 1.0)
        intake = self.intake
        raw = intake.dropped_messages if intake else 0
        health = self.bus.health()
        return {
            "intake": (intake.dropped if intake else 0) + round(raw * per_message),
            "frames": round(self.frames.lost_messages * per_message),
            "overflow": self.merger.overflow_dropped,
            "bus": health.dropped if health.enabled else 0,
            "stream_gap": self.durable.lost if self.durable is not None else 0,
        }

    def _note_drops(self, now: float) -> None:
        """Track drop episodes: dropping while they grow; reconcile once they stop."""
        dropped = self.dropped_events()
        total = sum(dropped[k] for k in HISTORY_DROPS)
        if total > self._last_drop_total:
            if self._last_drop_at is None or now - self._last_drop_at > DROPPING_FOR:
                log.warning("collector is dropping events (%d so far): see its status", total)
            self._last_drop_total = total
            self._last_drop_at = now
            self._reconcile_pending = True
        elif (
            self._reconcile_pending
            and self._last_drop_at is not None
            and now - self._last_drop_at >= RECONCILE_AFTER
        ):
            self._reconcile_pending = False
            self.reconciles += 1
            task = asyncio.ensure_future(self._reconcile_after_drops())
            self._hooks.add(task)
            task.add_done_callback(self._hooks.discard)

    async def _reconcile_after_drops(self) -> None:
        try:
            count = await self.reconcile()
            log.warning("after dropped events: %d task(s) reconciled", count)
        except Exception:
            log.exception("reconcile after dropped events failed")

    @property
    def dropping(self) -> bool:
        at = self._last_drop_at
        return at is not None and time.time() - at < DROPPING_FOR

    async def sweep(self) -> None:
        self._note_drops(time.time())
        for state in self.workers.expired():
            log.info("worker %s missed its heartbeats: offline", state.hostname)
            if self.bus.wants(Channel.WORKERS):
                self.bus.offer(Channel.WORKERS, [envelope("worker-offline", state.public())])
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
        dropped = self.dropped_events()
        return {
            "connected": bool(reader and reader.connected.is_set()),
            "degraded": self.degraded or self.dropping,
            "dropping": self.dropping,
            "store_failing": self.degraded,
            "last_error": self.last_error,
            "events": self.events,
            "pending_tasks": len(self.merger),
            "dropped_overflow": dropped["overflow"],
            "dropped_intake": dropped["intake"],
            "dropped_frames": dropped["frames"],
            "dropped_bus": dropped["bus"],
            "dropped_stream_gap": dropped["stream_gap"],
            "dropped_intake_messages": self.intake.dropped_messages if self.intake else 0,
            "dropped_intake_bytes": self.intake.dropped_bytes if self.intake else 0,
            "bad_frames": self.frames.bad_frames,
            "reconciles_after_drops": self.reconciles,
            "bad_events": self.bad_events,
            "decode_errors": self.frames.errors + (reader.decoder.errors if reader else 0),
            "messages": self.frames.messages + (reader.messages if reader else 0),
            "rows_written": self.store.rows_written,
            "last_flush_at": self.last_flush_at,
            "gaps": self.gaps,
            "started_at": self.started_at,
            "updated_at": time.time(),
            "stream": self.durable.status() if self.durable is not None else None,
            "settle": self.settler.status() if self.settler is not None else None,
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
        """One leadership term. Terms never overlap: a lease lost and retaken at once (a starved
        event loop misses its renewals) starts the next term only once the previous one has
        stopped its reader and handled what its intake held. Before, the new term's reader
        started while the old one still ran, and the old term's cleanup consumed the new
        intake beside the new consumer, interleaving chunks through one frame decoder."""
        async with self._term:
            await self._run_term()

    async def _run_term(self) -> None:
        loop = asyncio.get_running_loop()
        intake = self.intake = Intake(loop, self.intake_events)
        assert self.broker_url is not None
        reader = self.reader = reader_for(self.app, self.broker_url, intake, **self.reader_options)
        with contextlib.suppress(Exception):
            self.workers.load(await read_workers(self.redis))
        reader.start()
        jobs = [
            asyncio.create_task(self._consume_loop(), name="collector-consume"),
            asyncio.create_task(self._flush_loop(), name="collector-flush"),
            asyncio.create_task(self._sweep_loop(), name="collector-sweep"),
        ]
        if self.durable is not None:
            jobs.append(asyncio.create_task(self.durable.run(), name="collector-stream"))
        if self.settler is not None:
            jobs.append(asyncio.create_task(self.settler.run(self), name="collector-settle"))
        try:
            # Subscribed first, so nothing falls between what reconciling sees and the stream.
            for _ in range(50):
                if reader.connected.is_set():
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
            # This term's reader and intake (never a later term's).
            await loop.run_in_executor(None, reader.stop)
            while intake.qsize():
                await self.handle_batches(
                    await intake.get(),
                    streamed=self.durable.hostnames if self.durable is not None else frozenset(),
                )
            with contextlib.suppress(Exception):
                if self._flushing is not None:
                    await asyncio.wait_for(self._flushing, timeout=10)
                await asyncio.wait_for(self.flush(), timeout=10)


def _task_message(state: str, row: dict[str, Any], event: Event, now: float) -> dict[str, Any]:
    """The bus message for one task state change (the envelope, built inline: it is hot)."""
    data = {"task_id": row["task_id"], "timestamp": event["timestamp"]}
    for key in _TASK_FIELDS:
        data[key] = row.get(key)
    return {"v": ENVELOPE_VERSION, "type": "task-" + state.lower(), "at": now, "data": data}


async def read_status(redis: aioredis.Redis | None) -> dict[str, Any] | None:
    """The leading collector's latest status (any replica may ask; None when none runs)."""
    if redis is None:
        return None
    try:
        raw = await redis.get(STATUS_KEY)
    except Exception:
        return None
    return json.loads(raw) if raw else None


__all__ = ["STATUS_KEY", "Collector", "read_status"]
