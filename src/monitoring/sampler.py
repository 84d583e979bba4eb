"""The sampler: a leader job that, while monitoring is enabled, takes a metrics sample every
`monitoring.metrics_interval_seconds`, stores it as the latest sample (shared state), publishes it
on Channel.METRICS, evaluates the alert rules (leaving what changed in the delivery outbox, never
waiting on a receiver), and every `monitoring.snapshot_interval_seconds` writes a snapshot row
(and prunes old ones).

Each part of a sample is independent: a broker, inspect or database failure leaves that part empty
and is named in `sample.errors`; the loop itself never dies of one bad iteration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from src.brokers.base import QueueDepth
from src.bus import Channel, envelope
from src.collector.drops import DROP_REASONS
from src.control.cluster_view import ClusterView
from src.control.inspector import InspectKind
from src.monitoring import settings as keys
from src.monitoring.alert_rules import QueueBacklogRule, load_rules
from src.monitoring.host import host_sample
from src.monitoring.queue_age import oldest_ages
from src.monitoring.sample import (
    CollectorSample,
    MetricsSample,
    QueueSample,
    SamplerIdentity,
    TaskTotals,
    Throughput,
    WorkerSample,
)
from src.monitoring.snapshots import prune, write_snapshot
from src.monitoring.switch import monitoring_enabled
from src.monitoring.task_stats import recent_throughput, task_totals
from src.periodic.sample import BeatSample
from src.queues.catalog import consumers_by_queue
from src.workers.replies import parse_stats

if TYPE_CHECKING:
    from src.monitoring.service import Monitoring

log = logging.getLogger(__name__)

LATEST_KEY = "latest_sample"
TOTALS_KEY = "task_totals"
HEARTBEAT_KEY = "sampler_heartbeat"
QUEUE_DISCOVERY_SECONDS = 15.0
PRUNE_EVERY_SECONDS = 3600.0
MAX_QUEUES = 500
PART_TIMEOUT = 10.0


class Sampler:
    def __init__(self, monitoring: Monitoring, *, interval: float | None = None) -> None:
        self.monitoring = monitoring
        self.interval_override = interval
        self.identity = SamplerIdentity(host=socket.gethostname(), pid=os.getpid())
        self._queue_names: tuple[float, set[str]] | None = None
        self._last_snapshot = 0.0
        self._last_totals = 0.0
        self._last_prune = 0.0
        self.samples_taken = 0
        self.rounds_off = 0  # loop rounds that found monitoring switched off (tests await them)

    async def interval(self) -> float:
        if self.interval_override is not None:
            return self.interval_override
        return await keys.get_float(self.monitoring.config, keys.METRICS_INTERVAL.name)

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            interval = 5.0
            try:
                interval = await self.interval()
                if await monitoring_enabled(self.monitoring.config):
                    await self.tick(interval)
                else:
                    self.rounds_off += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sampling failed")
            await asyncio.sleep(max(0.05, interval - (time.monotonic() - started)))

    async def tick(self, interval: float) -> MetricsSample:
        """One iteration: sample, store, publish, alerts, and snapshot/totals/prune when due."""
        try:
            rules = await load_rules(self.monitoring.config)
        except Exception:
            log.exception("alert rules unreadable")
            rules = []
        # Queues a rule names are watched even before the broker knows them (length 0 then).
        watched = {q for r in rules if isinstance(r, QueueBacklogRule) for q in r.queues}
        sample = await self.sample(interval, extra_queues=watched)
        state = self.monitoring.state
        ttl = max(interval * 5, 30.0)
        await state.set(LATEST_KEY, sample.model_dump_json(), ttl=ttl)
        await state.set(HEARTBEAT_KEY, sample.sampler.model_dump_json(), ttl=ttl)
        await self.monitoring.bus.publish(
            Channel.METRICS, envelope("metrics", sample.model_dump(mode="json"))
        )
        try:
            changes = await self.monitoring.alerts.evaluate(sample, rules)
        except Exception:
            log.exception("alert evaluation failed")
            changes = []
        if changes:
            await self._guard("alert outbox", self.monitoring.delivery.outbox.push(changes))
        now = time.monotonic()
        config = self.monitoring.config
        if now - self._last_snapshot >= await keys.get_float(config, keys.SNAPSHOT_INTERVAL.name):
            self._last_snapshot = now
            await self._guard("snapshot", write_snapshot(self.monitoring.db, sample))
        if now - self._last_totals >= await keys.get_float(config, keys.TOTALS_INTERVAL.name):
            self._last_totals = now
            await self._guard("totals", self.refresh_totals())
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            days = await keys.get_float(config, keys.SNAPSHOT_RETENTION_DAYS.name)
            await self._guard(
                "prune", prune(self.monitoring.db, now=sample.taken_at, retention_days=days)
            )
        self.samples_taken += 1
        return sample

    async def _guard(self, name: str, work: Any) -> None:
        try:
            await asyncio.wait_for(work, PART_TIMEOUT)
        except Exception as exc:
            log.warning("monitoring %s failed: %s", name, exc)

    async def refresh_totals(self) -> TaskTotals:
        totals = await task_totals(self.monitoring.db, now=datetime.now(UTC))
        await self.monitoring.state.set(TOTALS_KEY, totals.model_dump_json())
        return totals

    # -- one sample ----------------------------------------------------------------------------

    async def sample(
        self, interval: float, *, extra_queues: set[str] | frozenset[str] = frozenset()
    ) -> MetricsSample:
        started = time.perf_counter()
        taken_at = datetime.now(UTC)
        window = await keys.get_float(self.monitoring.config, keys.THROUGHPUT_WINDOW.name)
        view = ClusterView(self.monitoring.inspector)
        results = await asyncio.gather(
            asyncio.wait_for(self._queues(view, extra_queues), PART_TIMEOUT),
            asyncio.wait_for(self._workers(view), PART_TIMEOUT),
            asyncio.wait_for(
                recent_throughput(self.monitoring.db, now=taken_at, window_seconds=window),
                PART_TIMEOUT,
            ),
            asyncio.wait_for(host_sample(), PART_TIMEOUT),
            asyncio.wait_for(self._beat(), PART_TIMEOUT),
            asyncio.wait_for(self._collector(), PART_TIMEOUT),
            return_exceptions=True,
        )
        errors: list[str] = []
        queues, workers, throughput, host, beat, collector = results
        parts = ("broker", "workers", "database", "host", "beat", "collector")
        for name, result in zip(parts, results, strict=True):
            if isinstance(result, BaseException):
                errors.append(f"{name}: {type(result).__name__}: {result}"[:300])
        queue_list: list[QueueSample] = [] if isinstance(queues, BaseException) else queues
        worker_list: list[WorkerSample] = [] if isinstance(workers, BaseException) else workers
        sample = MetricsSample(
            taken_at=taken_at,
            interval_seconds=interval,
            sampler=self.identity,
            workers_online=len(worker_list),
            tasks_active=sum(w.active for w in worker_list),
            queued_total=sum(q.length for q in queue_list),
            queues=queue_list,
            workers=worker_list,
            throughput=(
                Throughput(window_seconds=window)
                if isinstance(throughput, BaseException)
                else throughput
            ),
            errors=errors,
        )
        if not isinstance(host, BaseException):
            sample.host = host
        if not isinstance(beat, BaseException):
            sample.beat = beat
        if not isinstance(collector, BaseException):
            sample.collector = collector
        # What the sampler learnt helps the API's own broadcasts stop early (limit=).
        self.monitoring.api_inspector.observe_workers(w.hostname for w in worker_list)
        sample.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        return sample

    async def _names(
        self, consumers: dict[str, list[str]], extra: set[str] | frozenset[str]
    ) -> list[str]:
        now = time.monotonic()
        if self._queue_names is None or now - self._queue_names[0] > QUEUE_DISCOVERY_SECONDS:
            self._queue_names = (now, await self.monitoring.queues.names())
        return sorted(self._queue_names[1] | set(consumers) | extra)[:MAX_QUEUES]

    async def _queues(
        self, view: ClusterView, extra: set[str] | frozenset[str] = frozenset()
    ) -> list[QueueSample]:
        try:
            consumers = await consumers_by_queue(view)
        except Exception:  # no workers answering still leaves the broker's view
            consumers = {}
        names = await self._names(consumers, extra)
        depths: dict[str, QueueDepth] = await self.monitoring.queues.backend.depths(names)
        ages = await oldest_ages(
            self.monitoring.queues.backend, depths, self.monitoring.db, self.monitoring.state
        )
        samples = []
        for name in names:
            depth = depths[name]
            age = ages.get(name)
            samples.append(
                QueueSample(
                    name=name,
                    length=depth.messages,
                    unacked=depth.unacked,
                    consumers=(
                        depth.consumer_count
                        if depth.consumer_count is not None
                        else len(consumers.get(name, []))
                    ),
                    oldest_age_seconds=(
                        round(age.age_seconds, 3) if age and age.age_seconds is not None else None
                    ),
                    oldest_age_source=age.source if age else None,
                    oldest_task_id=age.task_id if age else None,
                )
            )
        return samples

    async def _workers(self, view: ClusterView) -> list[WorkerSample]:
        return await workers_from_view(view)

    async def _collector(self) -> CollectorSample | None:
        probe = self.monitoring.collector_status
        report = await probe() if probe is not None else None
        return collector_sample(report) if report else None

    async def _beat(self) -> BeatSample | None:
        probe = self.monitoring.beat
        return await probe.beat_sample() if probe is not None else None


def collector_sample(report: dict[str, Any]) -> CollectorSample:
    """The sample's collector part, from the leading collector's status key."""
    return CollectorSample(
        dropped={reason: int(report.get(f"dropped_{reason}") or 0) for reason in DROP_REASONS},
        dropping=bool(report.get("dropping")),
        degraded=bool(report.get("degraded")),
        events=int(report.get("events") or 0),
        pending_tasks=int(report.get("pending_tasks") or 0),
    )


async def workers_from_view(view: ClusterView) -> list[WorkerSample]:
    """Workers answering stats, with their active task counts (inspect replies, cached)."""
    stats, active = await asyncio.gather(
        view.reply(InspectKind.STATS), view.reply(InspectKind.ACTIVE), return_exceptions=True
    )
    if isinstance(stats, BaseException):
        raise stats
    active_by = {} if isinstance(active, BaseException) else active.replies
    workers = []
    for hostname, reply in sorted(stats.replies.items()):
        parsed = parse_stats(reply)
        workers.append(
            WorkerSample(
                hostname=hostname,
                active=len(active_by.get(hostname) or []),
                processed=parsed.processed_total if parsed else None,
                # live pool processes: the size poolGrow/poolShrink changed, not the start size
                pool_size=parsed.pool.processes if parsed else None,
            )
        )
    return workers


__all__ = [
    "HEARTBEAT_KEY",
    "LATEST_KEY",
    "TOTALS_KEY",
    "Sampler",
    "collector_sample",
    "workers_from_view",
]
