"""The sampler against real workers, a real Redis broker and the real database."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from src.bus import Channel
from src.db.models import MonitoringSnapshot, TaskRecord
from src.errors import DatabaseUnavailable
from src.monitoring.sample import MetricsSample, SamplerIdentity, Throughput
from src.monitoring.service import Monitoring
from src.monitoring.snapshots import prune, write_snapshot
from src.runtime import Runtime
from tests.conftest import WORKER_NAMES
from tests.monitoring.conftest import next_matching


async def test_sample_counts_queue_messages_and_workers(
    monitoring: Monitoring,
    workers,
    celery_client,  # type: ignore[no-untyped-def]
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"  # nobody consumes it, so the messages stay
    for i in range(3):
        celery_client.send_task("src.tasks.demo.add", args=[i, i], queue=name)
    sample = await monitoring.sampler.sample(1.0)
    queue = next(q for q in sample.queues if q.name == name)
    assert queue.length == 3 and queue.consumers == 0
    # "sent_event" once the session API's collector has stored the task-sent event, else "observed"
    assert queue.oldest_age_source in {"observed", "sent_event"} and queue.oldest_task_id
    assert sample.workers_online == len(WORKER_NAMES)
    assert {w.hostname for w in sample.workers} == set(WORKER_NAMES)
    assert sample.queued_total >= 3
    assert not sample.errors, sample.errors
    assert sample.host.cpu_percent is not None and sample.host.memory_percent is not None

    # The same message still waits: its age grows.
    await asyncio.sleep(0.3)
    again = next(q for q in (await monitoring.sampler.sample(1.0)).queues if q.name == name)
    assert again.oldest_task_id == queue.oldest_task_id
    assert again.oldest_age_seconds is not None and again.oldest_age_seconds >= 0.25
    assert queue.oldest_age_seconds is not None
    assert again.oldest_age_seconds >= queue.oldest_age_seconds + 0.25


async def test_oldest_age_uses_the_stored_sent_time(
    monitoring: Monitoring,
    runtime: Runtime,
    celery_client,  # type: ignore[no-untyped-def]
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"
    result = celery_client.send_task("src.tasks.demo.add", args=[1, 1], queue=name)
    sent = datetime.now(UTC) - timedelta(seconds=120)
    # merge: the session API's collector may already have stored the task-sent event (it keeps
    # the earliest sent_at, so 120 s ago stands either way). It may also insert the row between
    # the merge's select and its insert: then the merge is tried again, and finds the row.
    for attempt in range(3):
        try:
            async with runtime.db.session("test") as session:
                await session.merge(
                    TaskRecord(
                        task_id=result.id, state="PENDING", queue=name, sent_at=sent, seen_at=sent
                    )
                )
            break
        except DatabaseUnavailable as exc:
            if not isinstance(exc.__cause__, IntegrityError) or attempt == 2:
                raise
    queue = next(q for q in (await monitoring.sampler.sample(1.0)).queues if q.name == name)
    assert queue.oldest_age_source == "sent_event" and queue.oldest_task_id == result.id
    assert queue.oldest_age_seconds is not None and 119 <= queue.oldest_age_seconds <= 130


async def test_active_tasks_are_counted(
    monitoring: Monitoring,
    workers,
    celery_client,  # type: ignore[no-untyped-def]
) -> None:
    result = celery_client.send_task("src.tasks.demo.analyze_slow", args=[4], queue="ai_analysis")
    deadline = time.monotonic() + 60
    sample = await monitoring.sampler.sample(1.0)
    while sample.tasks_active < 1 and time.monotonic() < deadline:
        monitoring.inspector.invalidate()
        sample = await monitoring.sampler.sample(1.0)
    assert sample.tasks_active >= 1
    assert sum(w.active for w in sample.workers) == sample.tasks_active
    result.revoke(terminate=True)


async def test_throughput_and_runtime_percentiles_from_task_history(
    monitoring: Monitoring, runtime: Runtime
) -> None:
    queue = f"hist_{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    rows = [("SUCCESS", 1.0), ("SUCCESS", 2.0), ("SUCCESS", 3.0), ("SUCCESS", 4.0)]
    rows += [("FAILURE", 5.0)]
    async with runtime.db.session("test") as session:
        for i, (state, runtime) in enumerate(rows):
            finished = now - timedelta(seconds=10 + i)
            session.add(
                TaskRecord(
                    task_id=f"{queue}-{i}",
                    state=state,
                    queue=queue,
                    runtime=runtime,
                    finished_at=finished,
                    seen_at=finished,
                )
            )
        old = now - timedelta(hours=2)  # outside the window: not counted
        session.add(
            TaskRecord(
                task_id=f"{queue}-old", state="FAILURE", queue=queue, finished_at=old, seen_at=old
            )
        )
    sample = await monitoring.sampler.sample(1.0)
    assert sample.throughput.by_queue[queue] == {"SUCCESS": 4, "FAILURE": 1}
    stats = sample.throughput.runtime_by_queue[queue]
    assert stats.count == 5 and stats.p50 == 3.0 and stats.max == 5.0
    assert stats.p90 is not None and 4.5 <= stats.p90 <= 4.7
    assert sample.throughput.by_state["SUCCESS"] >= 4

    totals = await monitoring.sampler.refresh_totals()
    assert totals.by_queue_state[queue] == {"SUCCESS": 4, "FAILURE": 2}
    assert totals.runtime_count[queue] == 5 and totals.runtime_sum[queue] == 15.0
    bucket_1s = totals.buckets.index(1.0)
    assert totals.histogram[queue][bucket_1s] == 1  # only the 1.0 s task is <= 1 s
    assert (await monitoring.totals()) == totals


async def test_tick_stores_the_latest_sample_and_publishes_it(
    monitoring: Monitoring,
    runtime: Runtime,
    workers,  # type: ignore[no-untyped-def]
) -> None:
    async with runtime.bus.subscribe(Channel.METRICS) as messages:
        sample = await monitoring.sampler.tick(1.0)
        taken = sample.taken_at.isoformat().replace("+00:00", "Z")
        published = await next_matching(
            messages, lambda m: m["data"]["taken_at"] in (taken, sample.taken_at.isoformat())
        )
    assert await monitoring.latest() == sample
    leader = await monitoring.leader()
    assert leader is not None and leader.pid == sample.sampler.pid
    assert published["type"] == "metrics" and published["v"] == 1
    assert published["data"]["workers_online"] == sample.workers_online
    async with runtime.db.session("test") as session:  # the first tick also writes a snapshot
        row = await session.scalar(
            select(MonitoringSnapshot).where(MonitoringSnapshot.taken_at == sample.taken_at)
        )
    assert row is not None and row.workers_online == sample.workers_online
    assert row.queued_total == sample.queued_total
    assert set(row.data["queues"]) <= {q.name for q in sample.queues}
    assert len(row.data["queues"]) <= 50


async def test_retention_prunes_old_snapshots_only(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=30), now - timedelta(days=1)
    for at in (old, recent):
        await write_snapshot(
            runtime.db,
            MetricsSample(
                taken_at=at,
                interval_seconds=5,
                sampler=SamplerIdentity(host="t", pid=1),
                throughput=Throughput(window_seconds=300),
            ),
        )
    assert await prune(runtime.db, now=now, retention_days=7) >= 1
    async with runtime.db.session("test") as session:
        left = set(
            (
                await session.scalars(
                    select(MonitoringSnapshot.taken_at).where(
                        MonitoringSnapshot.taken_at.in_([old, recent])
                    )
                )
            ).all()
        )
    assert left == {recent}
