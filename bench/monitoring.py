"""Monitoring costs at a realistic size, on this machine: one command, figures printed.

    .venv/bin/python bench/monitoring.py [--queues 200] [--tasks 100000] [--days 30]

Sets up its own Redis (redis-server from PATH or the embedded one) and a throwaway PostgreSQL
database (TEST_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres), fills them, then
times: the queue part of a sample (depths in one pipeline + oldest-message peek), the throughput
part (window aggregates and percentiles), the all-time totals behind /metrics, building the /metrics
text, and metricsHistory over `--days` of 60-second snapshots. No workers run, so the inspect part
(bounded by INSPECT_TIMEOUT and measured by the workers tests) is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import insert

from src.config import Settings
from src.db.migrations import upgrade_async
from src.db.models import MonitoringSnapshot, TaskRecord
from src.embedded_redis import EmbeddedRedis
from src.monitoring.prometheus import exposition
from src.monitoring.sample import MetricsSample
from src.monitoring.snapshots import metrics_history
from src.monitoring.task_stats import recent_throughput, task_totals
from src.runtime import Runtime

PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def timed(label: str, runs: int, work: Callable[[], Awaitable[Any]]) -> None:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    p95 = durations[min(len(durations) - 1, int(len(durations) * 0.95))]
    print(
        f"{label:<58} p50 {statistics.median(durations):8.1f} ms   p95 {p95:8.1f} ms   ({runs} runs)"
    )


def kombu_message(task_id: str) -> str:
    return json.dumps(
        {
            "body": "W1tdLCB7fSwge31d",
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": "demo.add", "id": task_id},
            "properties": {"delivery_tag": task_id, "priority": 0},
        }
    )


async def fill_redis(runtime: Runtime, queues: int, per_queue: int) -> list[str]:
    redis = runtime.queues.backend.redis  # type: ignore[attr-defined]
    names = [f"bench_q{i}" for i in range(queues)]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.sadd("_kombu.binding.celery", f"{name}\x06\x16\x06\x16{name}")
            pipe.lpush(name, *[kombu_message(uuid.uuid4().hex) for _ in range(per_queue)])
        await pipe.execute()
    return names


async def fill_db(runtime: Runtime, tasks: int, queues: list[str], days: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(tasks):
        finished = now - timedelta(seconds=(i % 3600))
        rows.append(
            {
                "task_id": f"bench-{i}",
                "state": "FAILURE" if i % 10 == 0 else "SUCCESS",
                "queue": queues[i % len(queues)],
                "runtime": (i % 1000) / 100.0,
                "retries": 0,
                "finished_at": finished,
                "seen_at": finished,
            }
        )
    snapshots = []
    start = now - timedelta(days=days)
    for i in range(days * 1440):
        snapshots.append(
            {
                "taken_at": start + timedelta(minutes=i),
                "workers_online": 2,
                "tasks_active": i % 7,
                "queued_total": i % 100,
                "succeeded_per_min": 10.0,
                "failed_per_min": 1.0,
                "cpu_percent": 12.5,
                "memory_percent": 40.0,
                "max_wait_seconds": float(i % 60),
                "data": {},
            }
        )
    async with runtime.db.session("bench fill", seconds=600) as session:
        for chunk in range(0, len(rows), 5000):
            await session.execute(insert(TaskRecord), rows[chunk : chunk + 5000])
        for chunk in range(0, len(snapshots), 5000):
            await session.execute(insert(MonitoringSnapshot), snapshots[chunk : chunk + 5000])


async def main(args: argparse.Namespace) -> None:
    redis = EmbeddedRedis(binary=shutil.which("redis-server") or EmbeddedRedis().binary)
    redis.start()
    db = f"celery_admin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = f"{args.pg.rsplit('/', 1)[0]}/{db}"
    runtime: Runtime | None = None
    try:
        await upgrade_async(url)
        settings = Settings(
            redis_host="127.0.0.1", redis_port=redis.port, database_url=url, jwt_secret="x" * 40
        )
        runtime = Runtime.build(settings)
        monitoring = runtime.monitoring
        print(f"filling: {args.queues} queues x {args.per_queue} messages, {args.tasks} task rows, "
              f"{args.days} days of 60 s snapshots ...")  # fmt: skip
        names = await fill_redis(runtime, args.queues, args.per_queue)
        await fill_db(runtime, args.tasks, names, args.days)
        sampler = monitoring.sampler
        now = datetime.now(UTC)

        async def queue_part() -> None:
            await sampler._queues(_NoWorkers())  # type: ignore[arg-type]

        await timed(f"queue part ({args.queues} queues: depths + oldest peek)", 20, queue_part)
        await timed(
            "throughput part (5 min window, percentiles)",
            20,
            lambda: recent_throughput(runtime.db, now=now, window_seconds=300),  # type: ignore[union-attr]
        )
        await timed(
            f"task totals for /metrics ({args.tasks} rows, leader only)",
            5,
            lambda: task_totals(runtime.db, now=now),  # type: ignore[union-attr]
        )
        await sampler.refresh_totals()
        queues = await sampler._queues(_NoWorkers())  # type: ignore[arg-type]
        sample = MetricsSample.model_validate(
            {
                "taken_at": now,
                "interval_seconds": 5,
                "sampler": {"host": "bench", "pid": 1},
                "queues": [q.model_dump() for q in queues],
                "throughput": {"window_seconds": 300},
            }
        )
        await monitoring.state.set("latest_sample", sample.model_dump_json())
        body = await exposition(monitoring)
        await timed(f"GET /metrics body ({len(body)} bytes)", 50, lambda: exposition(monitoring))
        await timed(
            f"metricsHistory {args.days} days, step 1 h ({args.days * 24} points)",
            5,
            lambda: metrics_history(runtime.db, now - timedelta(days=args.days), now, 3600),  # type: ignore[union-attr]
        )
    finally:
        if runtime is not None:
            await runtime.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        redis.stop()


class _NoWorkers:
    """A cluster view with no workers answering (the bench runs none)."""

    async def reply(self, kind: Any) -> Any:
        from src.errors import BrokerUnavailable

        raise BrokerUnavailable("no workers in the bench")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--per-queue", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--pg", default=PG_DSN)
    asyncio.run(main(parser.parse_args()))
