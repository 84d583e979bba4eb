"""`workers` query latency with 4 real workers, against Flower's anchor.

    uv run python -m bench.workers [--requests 40] [--concurrent 50]

Starts its own redis-server, 4 demo workers and the API (a `celery-admin serve` subprocess), then
times over HTTP the query that asks for everything Flower's /api/workers?refresh=1 gathers
(stats, active, reserved, scheduled, registered, active_queues, revoked: seven broadcasts).
- fresh: the API runs with INSPECT_CACHE_TTL=0, so every sequential query pays its broadcasts;
- concurrent: waves of 50 at once against the API as deployed (INSPECT_CACHE_TTL=1): they share
  the broadcasts in flight and the short cache, as the design intends.
Anchor, measured on this machine: Flower 2.2.0 /api/workers?refresh=1 takes 1,021 ms median and
1.06 s wall for 50 concurrent requests. Targets: 50 ms median, 150 ms wall for 50 concurrent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from bench.rawhttp import RawConnection
from src.auth.roles import Role
from src.auth.tokens import TokenService
from src.config import Settings
from src.embedded_redis import EmbeddedRedis, free_port
from tests.support.servers import WorkerProcess, client_app, redis_binary

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
QUERY = """
{ workers {
    hostname online pid uptime processedTotal
    pool { implementation processes pids }
    activeTasks { id name } reservedTasks { id } scheduledTasks { id eta }
    registeredTasks queues { name } revoked
} }
"""
FLOWER_MEDIAN_MS = 1021.0
FLOWER_CONCURRENT_S = 1.06
T = TypeVar("T")


def _start_api(
    redis: EmbeddedRedis, port: int, db_dir: str, cache_ttl: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis.port),
        "DATABASE_URL": f"sqlite:///{db_dir}/bench.db",
        "JWT_SECRET": SECRET,
        "INSPECT_CACHE_TTL": cache_ttl,
        "CELERY_LOG_LEVEL": "WARNING",
        "COLLECTOR_ENABLED": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "src.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_for_workers(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], count: int
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            body = (
                await client.post(url, json={"query": "{ workers { hostname } }"}, headers=headers)
            ).json()
            if len((body.get("data") or {}).get("workers") or []) >= count:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the API never saw every worker")


async def _sequential(url: str, token: str, requests: int, workers: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        await _wait_for_workers(client, url, headers, workers)
        for _ in range(5):  # warm up the connection and the known-worker count
            await client.post(url, json={"query": QUERY}, headers=headers)
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.post(url, json={"query": QUERY}, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            body = response.json()
            assert not body.get("errors") and len(body["data"]["workers"]) == workers, body
    return timings


async def _concurrent(
    url: str, token: str, concurrent: int, workers: int, rounds: int = 6
) -> tuple[list[float], list[float]]:
    """Waves of `concurrent` identical queries on kept-alive connections: a fresh wave after the
    short cache expired (it pays the broadcasts once), then a wave that finds the replies cached."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        await _wait_for_workers(client, url, headers, workers)
    parts = urlsplit(url)
    connections = [
        await RawConnection.open(parts.hostname or "", parts.port or 80) for _ in range(concurrent)
    ]

    async def wave() -> float:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(c.post_json(parts.path, {"query": QUERY}, headers) for c in connections)
        )
        assert all(
            status == 200 and len(body["data"]["workers"]) == workers for status, body in answers
        )
        return (time.perf_counter() - started) * 1000

    fresh, cached = [], []
    try:
        await wave()  # warm-up
        for _ in range(rounds):
            await asyncio.sleep(1.2)  # the short cache (INSPECT_CACHE_TTL=1) expires
            fresh.append(await wave())
            cached.append(await wave())
    finally:
        for connection in connections:
            connection.close()
    return fresh, cached


def _run_api(
    redis: EmbeddedRedis, cache_ttl: str, measure: Callable[[str], Awaitable[list[float]]]
) -> list[float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as db_dir:
        api = _start_api(redis, port, db_dir, cache_ttl)
        try:
            return asyncio.run(measure(f"http://127.0.0.1:{port}/celery-admin/graphql"))
        finally:
            api.terminate()
            api.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args()
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    started: list[WorkerProcess] = []
    token = TokenService(Settings(jwt_secret=SECRET)).mint("bench", Role.VIEWER)  # type: ignore[arg-type]
    try:
        celery = client_app(redis)
        started = [WorkerProcess(redis, f"bench{i}@bench") for i in range(args.workers)]
        for worker in started:
            worker.wait_ready(celery)
        sequential = _run_api(
            redis, "0", lambda url: _sequential(url, token, args.requests, args.workers)
        )
        fresh, cached = _run_api(
            redis, "1", lambda url: _concurrent(url, token, args.concurrent, args.workers)
        )
    finally:
        for worker in started:
            worker.stop()
        redis.stop()
    median = statistics.median(sequential)
    p90 = statistics.quantiles(sequential, n=10)[-1]
    print(f"workers query, {args.workers} live workers, 7 inspect kinds, over HTTP")
    print(f"fresh (INSPECT_CACHE_TTL=0), {args.requests} sequential requests:")
    print(
        f"  median {median:6.1f} ms  p90 {p90:6.1f} ms   target <= 50 ms   "
        f"anchor Flower 2.2.0 {FLOWER_MEDIAN_MS:.0f} ms"
    )
    print(
        f"{args.concurrent} concurrent on kept-alive connections (INSPECT_CACHE_TTL=1), wall per wave:"
    )
    print(
        f"  fresh wave (pays the broadcasts) median {statistics.median(fresh):6.1f} ms, "
        f"cached wave median {statistics.median(cached):6.1f} ms   target <= 150 ms  "
        f"anchor Flower 2.2.0 {FLOWER_CONCURRENT_S * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
