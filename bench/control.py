"""Benchmark: what auditing and checking cost on top of a bare Celery control call.

    .venv/bin/python bench/control.py              # about 30 s on 2 cores
    .venv/bin/python bench/control.py --runs 50

Starts a redis-server, one worker, a fresh migrated PostgreSQL database and the API (uvicorn, real
HTTP), then measures:
  - the audit trail alone: `AuditService.begin` + `finish` (two short transactions), median / p95;
  - `setRateLimit` through GraphQL end to end (pending audit row, role, validation against the
    worker's `registered` reply, the command, the read-back, the completed row);
  - anchor: the bare control call it wraps, `app.control.rate_limit(..., reply=True,
    destination=[worker])` (what Flower's rate-limit handler runs in its executor);
  - 20 concurrent mutations: every one answers (the bounded executor keeps kombu's connection pool
    from deadlocking) and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.audit.service import AuditDraft, AuditResult, AuditService, Outcome
from src.auth.roles import Role
from src.db.engine import create_engine, session_factory
from src.embedded_redis import EmbeddedRedis
from tests.support.graphql import gql, mint
from tests.support.servers import (
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    running_api,
    temporary_database,
)

WORKER = "bench@control"
MUTATION = """
mutation($r: String!) {
  setRateLimit(taskName: "src.tasks.demo.add", rate: $r, workers: ["bench@control"]) { ok }
}
"""


def summary(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{label:<46} median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"
    )


async def audit_only(url: str, runs: int) -> list[float]:
    engine = create_engine(url)
    service = AuditService(session_factory(engine))
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


async def through_api(graphql_url: str, token: str, runs: int) -> list[float]:
    samples = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(runs):
            started = time.perf_counter()
            data = (await gql(http, graphql_url, MUTATION, {"r": f"{i + 1}/m"}, token=token)).ok()
            samples.append(time.perf_counter() - started)
            assert data["setRateLimit"]["ok"], data
    return samples


async def concurrent(graphql_url: str, token: str, n: int) -> tuple[float, int]:
    async with httpx.AsyncClient(timeout=60) as http:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(gql(http, graphql_url, MUTATION, {"r": f"{i + 1}/s"}, token=token) for i in range(n))
        )
        wall = time.perf_counter() - started
    return wall, sum(1 for r in results if r.ok()["setRateLimit"]["ok"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    worker: WorkerProcess | None = None
    try:
        with temporary_database("postgresql", Path(tempfile.mkdtemp())) as url:
            settings = make_settings(redis, url)
            app = client_app(redis)
            worker = WorkerProcess(redis, WORKER, queues="bench_q")
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
            with running_api(settings) as api:
                asyncio.run(through_api(api.graphql_url, token, 3))  # warm up
                summary(
                    "setRateLimit via GraphQL (audited, checked)",
                    asyncio.run(through_api(api.graphql_url, token, args.runs)),
                )
                wall, ok = asyncio.run(concurrent(api.graphql_url, token, 20))
                print(f"{'20 concurrent setRateLimit':<46} {ok}/20 ok in {wall:.2f} s")
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()


if __name__ == "__main__":
    main()
