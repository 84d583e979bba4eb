"""Benchmark: control mutations through the API users run, against the bare Celery calls.

    uv run python -m bench.control              # about a minute on 2 cores
    uv run python -m bench.control --runs 50 --workers 3

Starts a redis-server, `--workers` demo workers (all consuming one queue), a fresh migrated
PostgreSQL database and the API as `celery-admin serve` in a subprocess (collector on, as
deployed), then measures over HTTP:
  - the audit trail alone: `AuditService.begin` + `finish` (two short transactions), median / p95;
  - `setRateLimit` on one named worker, end to end (pending audit row, role, validation against the
    worker's `registered` reply, the command, the read-back, the completed row), against the bare
    `app.control.rate_limit(..., reply=True, destination=[worker])` it wraps (Flower's handler);
  - 20 concurrent `setRateLimit`: every one answers (the bounded executor keeps kombu's connection
    pool from deadlocking), and the wall time;
  - `revokeTask` of a task a worker holds (an ETA an hour away), aimed at every worker, each run
    checked to be confirmed by every worker: the lookup (three inspect broadcasts to all), the
    durable record, the broadcast, the queue search, the audit rows. Anchors: the bare
    `app.control.revoke(id, reply=True)` (no limit: it listens until the 1 s timeout passes
    without a reply) and the same with `limit=<workers>` (the floor: one broadcast). The API
    process's CPU time per revoke is printed beside the wall time (`uptime` too: the machine is
    shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.audit.service import AuditDraft, AuditResult, AuditService, Outcome
from src.auth.roles import Role
from src.config import Settings
from src.db.engine import create_engine
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from tests.process.support import command_env, info_url, serve
from tests.support.graphql import gql, mint
from tests.support.servers import (
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    temporary_database,
)

QUEUE = "bench_q"
WORKER = "bench0@control"
RATE_LIMIT = """
mutation($r: String!) {
  setRateLimit(taskName: "src.tasks.demo.add", rate: $r, workers: ["bench0@control"]) { ok }
}
"""
REVOKE = """
mutation($id: String!) {
  revokeTask(id: $id, terminate: false, signal: "SIGTERM") { ok errors { message } observed }
}
"""


def summary(label: str, samples: list[float], extra: str = "") -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{label:<52} median {statistics.median(ordered) * 1000:7.1f} ms"
        f"   p95 {p95 * 1000:7.1f} ms{extra}"
    )


async def audit_only(url: str, runs: int) -> list[float]:
    engine = create_engine(url)
    service = AuditService(Database(engine))
    samples = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            row_id, mono = await service.begin(AuditDraft(action="bench", subject="bench"))
            await service.finish(row_id, mono, AuditResult(Outcome.SUCCESS, response={"ok": True}))
            samples.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return samples


class ServeProcess:
    """`celery-admin serve` as users run it (tests/process/support.py's `Command`), on a free port,
    with its CPU time readable."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        env = command_env(
            REDIS_HOST=settings.redis_host,
            REDIS_PORT=str(settings.redis_port),
            DATABASE_URL=settings.database_url,
            INSPECT_TIMEOUT=str(settings.inspect_timeout),
            CELERY_LOG_LEVEL="WARNING",
        )
        self.command, self.port = serve(env, log_dir)
        self.ps = psutil.Process(self.command.process.pid)

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/celery-admin/graphql"

    def wait_ready(self) -> None:
        self.command.wait_http(info_url(self.port), timeout=90)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.command.stop(signal.SIGTERM)


async def rate_limits(graphql_url: str, token: str, runs: int) -> list[float]:
    samples = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(runs):
            started = time.perf_counter()
            data = (await gql(http, graphql_url, RATE_LIMIT, {"r": f"{i + 1}/m"}, token=token)).ok()
            samples.append(time.perf_counter() - started)
            assert data["setRateLimit"]["ok"], data
    return samples


async def concurrent(graphql_url: str, token: str, n: int) -> tuple[float, int]:
    async with httpx.AsyncClient(timeout=60) as http:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                gql(http, graphql_url, RATE_LIMIT, {"r": f"{i + 1}/s"}, token=token)
                for i in range(n)
            )
        )
        wall = time.perf_counter() - started
    return wall, sum(1 for r in results if r.ok()["setRateLimit"]["ok"])


def held_tasks(app: Celery, count: int, hostnames: list[str]) -> list[str]:
    """`count` tasks the workers hold in their schedule (an ETA an hour away)."""
    ids = [
        str(app.send_task("src.tasks.demo.add", args=[i, i], queue=QUEUE, countdown=3600).id)
        for i in range(count)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        scheduled = app.control.inspect(timeout=1, limit=len(hostnames)).scheduled() or {}
        held = {t["request"]["id"] for tasks in scheduled.values() for t in tasks}
        if set(ids) <= held:
            return ids
        time.sleep(0.2)
    raise RuntimeError("the workers did not take the ETA tasks")


async def revokes(
    api: ServeProcess, token: str, ids: list[str], hostnames: list[str]
) -> tuple[list[float], float]:
    samples = []
    async with httpx.AsyncClient(timeout=30) as http:
        cpu = api.cpu_seconds()
        for task_id in ids:
            started = time.perf_counter()
            answer = (await gql(http, api.graphql_url, REVOKE, {"id": task_id}, token=token)).ok()
            samples.append(time.perf_counter() - started)
            payload: dict[str, Any] = answer["revokeTask"]
            assert payload["ok"], payload
            confirmed = payload["observed"]["confirmed_by"]
            assert sorted(confirmed) == sorted(hostnames), f"not every worker replied: {confirmed}"
        cpu = api.cpu_seconds() - cpu
    return samples, cpu / len(ids)


def bare_revokes(app: Celery, runs: int, limit: int | None) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        app.control.revoke(str(uuid.uuid4()), reply=True, timeout=1, limit=limit)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    workers: list[WorkerProcess] = []
    api: ServeProcess | None = None
    hostnames = [f"bench{i}@control" for i in range(args.workers)]
    try:
        with temporary_database("postgresql", Path(tempfile.mkdtemp())) as url:
            settings = make_settings(redis, url)
            app = client_app(redis)
            workers = [WorkerProcess(redis, h, queues=QUEUE, concurrency=1) for h in hostnames]
            for worker in workers:
                worker.wait_ready(app)
            token = mint(settings, Role.ADMIN)
            summary("audit trail alone (begin + finish)", asyncio.run(audit_only(url, args.runs)))
            bare = []
            for i in range(args.runs):
                started = time.perf_counter()
                app.control.rate_limit(
                    "src.tasks.demo.add", f"{i + 1}/m", destination=[WORKER], reply=True, timeout=1
                )
                bare.append(time.perf_counter() - started)
            summary("anchor: bare app.control.rate_limit", bare)
            api = ServeProcess(settings, Path(tempfile.mkdtemp()))
            api.wait_ready()
            asyncio.run(rate_limits(api.graphql_url, token, 3))  # warm up
            summary(
                "setRateLimit via GraphQL (audited, checked)",
                asyncio.run(rate_limits(api.graphql_url, token, args.runs)),
            )
            wall, ok = asyncio.run(concurrent(api.graphql_url, token, 20))
            print(f"{'20 concurrent setRateLimit':<52} {ok}/20 ok in {wall:.2f} s")

            print(f"-- revoke, aimed at every worker ({args.workers} workers, all replying)")
            ids = held_tasks(app, args.runs + 3, hostnames)
            asyncio.run(revokes(api, token, ids[:3], hostnames))  # warm up
            samples, cpu = asyncio.run(revokes(api, token, ids[3:], hostnames))
            summary(
                "revokeTask via GraphQL (lookup, record, audit)",
                samples,
                f"   API CPU {cpu * 1000:.1f} ms/revoke",
            )
            summary("anchor: bare app.control.revoke(reply=True)", bare_revokes(app, 5, None))
            summary(
                f"anchor: bare app.control.revoke(reply=True, limit={args.workers})",
                bare_revokes(app, args.runs, args.workers),
            )
    finally:
        if api is not None:
            api.stop()
        for worker in workers:
            worker.stop()
        redis.stop()
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
