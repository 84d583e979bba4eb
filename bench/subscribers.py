"""Benchmark: many WebSocket subscribers on one API process (issue 5, "Benchmark").

    .venv/bin/python bench/subscribers.py                       # 1,000 subscribers, then the outage
    .venv/bin/python bench/subscribers.py --subscribers 200 --outage 0   # quicker

What it does: starts its own redis-server and one API process (uvicorn, in a subprocess, on a
migrated SQLite file), opens N graphql-transport-ws subscriptions from client subprocesses, then
publishes messages shaped like a metrics sample (about 1.5 kB of JSON) on the bus at a steady rate
and measures, for every subscriber and message, the delay from publish (the envelope's `at`) to
receipt; memory per subscriber is the API process's RSS growth over N. Then Redis is stopped for
`--outage` seconds while publishing continues, started again on the same port, and the benchmark
reports what subscribers saw: the last message before, the notice, the first message after, the gap,
and whether every subscriber recovered without reconnecting its WebSocket.

The subscription is `taskEvents` (the metrics subscription lives with the monitoring work; the
bus, fan-out and transport measured here are the same for every subscription).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from src.task_store.stats import percentile as shared_percentile  # noqa: E402

JWT_SECRET = "bench-secret-which-is-long-enough-for-hs256-keys"
ANCHOR = "Benchmark (issue 5): 1,000 concurrent subscribers on one API process"
QUERY = """subscription { taskEvents { __typename
  ... on TaskEvent { at taskId kind }
  ... on EventsMissed { count reason } } }"""


def percentile(values: list[float], q: float) -> float:
    """The project's one percentile (q in 0..100 here, as printed); nan without values."""
    found = shared_percentile(sorted(values), q / 100)
    return float("nan") if found is None else found


# -- client subprocess ------------------------------------------------------------------------


async def client_main(url: str, token: str, count: int) -> None:
    """Open `count` subscriptions; print READY; record receipts until a line arrives on stdin."""
    from websockets.asyncio.client import connect

    records: list[list[Any]] = [[] for _ in range(count)]  # per client: [seq, t, delay] or notice
    closed = [False] * count
    ready = 0
    all_ready = asyncio.Event()
    gate = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        nonlocal ready
        async with gate:
            ws = await connect(url, subprotocols=["graphql-transport-ws"], compression=None,  # type: ignore[list-item]
                               open_timeout=60, ping_interval=None, max_size=None)  # fmt: skip
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": QUERY}}))
        ready += 1
        if ready == count:
            all_ready.set()
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message.get("type") != "next":
                    continue
                event = message["payload"]["data"]["taskEvents"]
                if event["__typename"] == "EventsMissed":
                    records[i].append(["missed", now, event["reason"], event["count"]])
                    continue
                if not event["taskId"].startswith("bench-"):
                    continue
                sent = datetime.fromisoformat(event["at"]).timestamp()
                records[i].append([int(event["taskId"][6:]), now, now - sent])
        except Exception:
            closed[i] = True

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await all_ready.wait()
    print("READY", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"records": records, "closed": sum(closed)}), flush=True)


# -- orchestration ----------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def sample(seq: int) -> dict[str, Any]:
    """A task envelope whose size and shape resemble a metrics sample."""
    queues = {f"queue_{i}": {"length": i * 3, "oldest_age": i * 0.5} for i in range(12)}
    return {
        "v": 1,
        "type": "metrics.sample",
        "at": time.time(),
        "data": {
            "task_id": f"bench-{seq}",
            "name": "bench.sample",
            "state": "SUCCESS",
            "result": json.dumps({"queues": queues, "cpu": 12.5, "memory": 41.0, "workers": 4}),
        },
    }


async def publish_for(redis_url: str, seconds: float, rate: float, start_seq: int,
                      log: list[tuple[int, float, bool]]) -> int:  # fmt: skip
    """Publish at `rate` per second for `seconds`; log (seq, time, delivered-to-redis)."""
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    seq = start_seq
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            message = sample(seq)
            try:
                await client.publish("celery_admin.tasks", json.dumps(message))
                ok = True
            except Exception:
                ok = False
            log.append((seq, message["at"], ok))
            seq += 1
            next_at = started + (seq - start_seq) / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        await client.aclose()
    return seq


def run(args: argparse.Namespace) -> None:
    from src.auth.roles import Role
    from src.auth.tokens import TokenService
    from src.config import Settings
    from src.db.migrations import upgrade
    from src.embedded_redis import EmbeddedRedis, free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-subscribers-"))
    redis = EmbeddedRedis(port=free_port(), binary=shutil.which("redis-server") or None)
    redis.start()
    redis_url = f"{redis.url}/0"
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(db_url)
    port = free_port()
    env = {
        **os.environ,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis.port),
        "DATABASE_URL": db_url.replace("sqlite://", "sqlite+aiosqlite://"),
        "JWT_SECRET": JWT_SECRET,
        "BUS_CANARY_INTERVAL": str(args.canary),
        "BUS_QUEUE_SIZE": "256",
        "STATE_DIR": str(workdir),
        "PYTHONPATH": str(ROOT),
    }
    api_log = (workdir / "api.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "src.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--ws-ping-interval", "0"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=api_log,
    )  # fmt: skip
    settings = Settings(jwt_secret=JWT_SECRET, state_dir=workdir)
    token = TokenService(settings).mint("bench", Role.VIEWER, ttl=timedelta(hours=2))
    http = f"http://127.0.0.1:{port}"
    clients: list[subprocess.Popen[str]] = []
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{http}/celery-admin/system/info", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"API did not start: {(workdir / 'api.log').read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(2)
        baseline = rss_mb(server.pid)

        share = [args.subscribers // args.client_processes] * args.client_processes
        share[0] += args.subscribers - sum(share)
        ws = f"ws://127.0.0.1:{port}/celery-admin/graphql"
        connect_started = time.monotonic()
        for count in share:
            clients.append(subprocess.Popen(
                [sys.executable, __file__, "--client", ws, token, str(count)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            ))  # fmt: skip
        for client in clients:
            assert client.stdout is not None
            line = client.stdout.readline()
            if line.strip() != "READY":
                raise SystemExit(f"client failed: {line!r}")
        connect_seconds = time.monotonic() - connect_started
        time.sleep(3)  # let every subscription's start (current state) finish
        with_subscribers = rss_mb(server.pid)

        log: list[tuple[int, float, bool]] = []
        seq = asyncio.run(publish_for(redis_url, args.seconds, args.rate, 0, log))
        steady_last = seq - 1
        time.sleep(2)
        after_steady = rss_mb(server.pid)

        outage: dict[str, float] = {}
        if args.outage > 0:
            outage["stop"] = time.time()
            redis.stop()
            seq = asyncio.run(publish_for(redis_url, args.outage, args.rate, seq, log))
            redis.start()
            outage["start"] = time.time()
            seq = asyncio.run(publish_for(redis_url, args.after, args.rate, seq, log))
        time.sleep(2)
        results = []
        for client in clients:
            out, _ = client.communicate("stop\n", timeout=120)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        api_log.close()
        for client in clients:
            if client.poll() is None:
                client.kill()
        server.terminate()
        server.wait(15)
        redis.stop()

    records = [r for result in results for r in result["records"]]
    closed = sum(result["closed"] for result in results)
    delays = [x[2] * 1000 for r in records for x in r if x[0] != "missed" and x[0] <= steady_last]
    expected = (steady_last + 1) * args.subscribers
    missed_steady = sum(
        1 for r in records for x in r if x[0] == "missed" and x[1] < outage.get("stop", 1e20)
    )

    print()
    print(ANCHOR)
    print(f"  command: .venv/bin/python bench/subscribers.py --subscribers {args.subscribers} "
          f"--rate {args.rate:g} --seconds {args.seconds:g} --outage {args.outage:g}")  # fmt: skip
    print(f"  machine: {os.cpu_count()} cores; API: 1 uvicorn process; clients: "
          f"{args.client_processes} processes")  # fmt: skip
    print(f"  subscribers connected: {args.subscribers} in {connect_seconds:.1f} s")
    print(f"  steady phase: {steady_last + 1} messages at {args.rate:g}/s, "
          f"{len(delays)}/{expected} deliveries, missed notices: {missed_steady}")  # fmt: skip
    print(f"  delay publish->receipt: p50 {percentile(delays, 50):.1f} ms, "
          f"p99 {percentile(delays, 99):.1f} ms, max {max(delays, default=float('nan')):.1f} ms, "
          f"mean {statistics.fmean(delays) if delays else float('nan'):.1f} ms "
          f"(target p99 <= 250 ms)")  # fmt: skip
    per_sub = (with_subscribers - baseline) * 1024 / args.subscribers
    print(f"  API RSS: {baseline:.1f} MB idle, {with_subscribers:.1f} MB with subscribers, "
          f"{after_steady:.1f} MB after the steady phase")  # fmt: skip
    print(f"  memory per subscriber: {per_sub:.1f} kB (RSS delta / {args.subscribers})")
    if outage:
        report_outage(records, log, outage, steady_last, args, closed)


def report_outage(records: list[list[Any]], log: list[tuple[int, float, bool]],
                  outage: dict[str, float], steady_last: int, args: argparse.Namespace,
                  closed: int) -> None:  # fmt: skip
    stop, start = outage["stop"], outage["start"]
    published_during = [s for s, t, ok in log if stop <= t < start]
    accepted_during = [s for s, t, ok in log if stop <= t < start and ok]
    first_after_seq = min((s for s, t, ok in log if t >= start and ok), default=None)
    last_before, first_after, gaps, notice_delay, recover_delay, received_during = (
        [],
        [],
        [],
        [],
        [],
        0,
    )
    recovered = 0
    for r in records:
        msgs = [x for x in r if x[0] != "missed"]
        before = [x for x in msgs if x[1] < stop]
        after = [x for x in msgs if x[1] >= start]
        received_during += sum(1 for x in msgs if stop <= x[1] < start)
        notices = [x for x in r if x[0] == "missed" and x[1] >= stop]
        if before:
            last_before.append(before[-1][0])
        if after:
            recovered += 1
            first_after.append(after[0][0])
            recover_delay.append(after[0][1] - start)
            if before:
                gaps.append(after[0][1] - before[-1][1])
        if notices:
            notice_delay.append(notices[0][1] - stop)
    print(f"Redis outage of {args.outage:g} s with publishing continuing at {args.rate:g}/s:")
    print(f"  published during the outage: {len(published_during)} "
          f"(accepted by Redis: {len(accepted_during)}); received during it: {received_during}")  # fmt: skip
    print(f"  last message before: seq {max(last_before, default=None)} (last published before "
          f"the stop: {steady_last}); first after: seq "
          f"{min(first_after, default=None)}..{max(first_after, default=None)} "
          f"(first published after Redis was back: {first_after_seq})")  # fmt: skip
    if notice_delay:
        print(f"  'EventsMissed BUS_INTERRUPTED' notice: {len(notice_delay)}/{len(records)} "
              f"subscribers, {statistics.median(notice_delay):.1f} s after the stop (median)")  # fmt: skip
    else:
        print("  no missed notice was received")
    if recover_delay:
        print(f"  recovered on their own (same WebSocket): {recovered}/{len(records)} subscribers; "
              f"first message {statistics.median(recover_delay):.1f} s (median), "
              f"{max(recover_delay):.1f} s (max) after Redis was back")  # fmt: skip
        print(f"  gap between last message before and first after: "
              f"{statistics.median(gaps):.1f} s (median)")  # fmt: skip
    else:
        print(f"  recovered: 0/{len(records)} subscribers")
    print(f"  WebSockets closed by the server: {closed}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        url, token, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        asyncio.run(client_main(url, token, count))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="steady phase length")
    parser.add_argument("--outage", type=float, default=30.0, help="Redis outage (0: none)")
    parser.add_argument("--after", type=float, default=20.0, help="publishing after the outage")
    parser.add_argument("--canary", type=float, default=2.0, help="BUS_CANARY_INTERVAL (s)")
    parser.add_argument("--client-processes", type=int, default=2)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
