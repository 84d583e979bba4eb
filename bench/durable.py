"""Durable mode under a collector crash: real workers with celery_admin_events at a steady rate,
`celery-admin collect` SIGKILLed for 30 s and restarted, then counted; the same with pub/sub.

    .venv/bin/python bench/durable.py [--rate 200] [--before 10] [--down 30] [--after 15]
                                       [--modes stream,pubsub] [--dsn postgresql://...]

Each mode gets its own redis-server, PostgreSQL database and two prefork workers (concurrency 2,
no result backend). Tasks (`add`) are sent at `--rate` per second for before + down + after
seconds; the collector is killed with SIGKILL `--before` seconds in and started again `--down`
seconds later. Once the workers have run everything and the collector is idle, it prints tasks
sent, stored, lost (sent, never stored) and non-terminal (stored, not SUCCESS), with the 1-minute
load average. Target: 0 lost in stream mode (the baseline: pub/sub, which keeps nothing while no
collector listens).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from src.db.migrations import upgrade  # noqa: E402
from src.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.support.servers import WorkerProcess, redis_binary  # noqa: E402

STATUS_KEY = "celery_admin:collector:status"


def start_collector(redis_port: int, db_url: str, mode: str, state: Path, log: Path) -> Any:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))},
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "DATABASE_URL": db_url,
        "EVENT_SOURCE": mode,
        "JWT_SECRET": "bench-secret-which-is-long-enough-for-hs256",
        "STATE_DIR": str(state),
        "LEADER_LEASE_SECONDS": "5",
        "CELERY_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery_admin", "collect"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_connected(client: redis.Redis, since: float, within: float = 60.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        raw = client.get(STATUS_KEY)
        if raw:
            status = json.loads(raw)
            if status.get("connected") and status.get("started_at", 0) >= since:
                return True
        time.sleep(0.2)
    return False


def send_paced(app: Celery, rate: float, seconds: float, sent: list[str]) -> None:
    start = time.monotonic()
    n = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            return
        due = int(elapsed * rate) + 1
        while n < due:
            sent.append(app.send_task("src.tasks.demo.add", args=[n, 1], queue="durable").id)
            n += 1
        time.sleep(0.005)


async def count(db_url: str, sent: list[str]) -> tuple[int, int]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT task_id, state FROM celery_task_results_ext WHERE task_id = ANY($1::text[])",
            sent,
        )
    finally:
        await conn.close()
    return len(rows), sum(1 for r in rows if r["state"] != "SUCCESS")


def queue_empty(client: redis.Redis) -> bool:
    return client.llen("durable") == 0 and client.hlen("unacked") == 0


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    name = f"celery_admin_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(args.dsn, f'CREATE DATABASE "{name}"'))
    db_url = f"{args.dsn.rsplit('/', 1)[0]}/{name}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-durable-"))
    log = tmp / "collect.log"
    workers: list[WorkerProcess] = []
    collector = None
    client = redis.Redis(port=server.port)
    try:
        upgrade(db_url)
        app = Celery("bench", broker=f"{server.url}/0", set_as_current=False)
        app.conf.broker_transport_options = {"polling_interval": 0.05}
        workers = [
            WorkerProcess(server, f"w{i}@bench", queues="durable", app="bench.durable_app.app")
            for i in (1, 2)
        ]
        for worker in workers:
            worker.wait_ready(app)
        started = time.time()
        collector = start_collector(server.port, db_url, mode, tmp, log)
        if not wait_connected(client, started):
            raise RuntimeError(f"collector did not connect: {log.read_text()[-2000:]}")
        sent: list[str] = []
        total = args.before + args.down + args.after
        sender = threading.Thread(target=send_paced, args=(app, args.rate, total, sent))
        sender.start()
        time.sleep(args.before)
        collector.send_signal(signal.SIGKILL)
        collector.wait()
        killed_at = len(sent)
        time.sleep(args.down)
        restarted = time.time()
        collector = start_collector(server.port, db_url, mode, tmp, log)
        wait_connected(client, restarted, 60)
        back_at = len(sent)
        sender.join()
        sent_at_end = time.monotonic()
        while not queue_empty(client) and time.monotonic() - sent_at_end < 120:
            time.sleep(0.2)
        drained = time.monotonic() - sent_at_end
        # Caught up: every sent task stored and final, or nothing changes for 10 s (60 s at most).
        last, still, deadline = (-1, -1), time.monotonic(), time.monotonic() + 60
        while time.monotonic() < deadline:
            now = asyncio.run(count(db_url, sent))
            if now == (len(sent), 0):
                break
            if now != last:
                last, still = now, time.monotonic()
            elif time.monotonic() - still > 10:
                break
            time.sleep(0.5)
        stored, open_ = asyncio.run(count(db_url, sent))
        raw = client.get(STATUS_KEY)
        status = json.loads(raw) if raw else {}
        return {
            "mode": mode,
            "sent": len(sent),
            "sent_before_kill": killed_at,
            "sent_while_down": back_at - killed_at,
            "stored": stored,
            "lost": len(sent) - stored,
            "non_terminal": open_,
            "rate": len(sent) / total,
            "drained_s": round(drained, 1),
            "stream": status.get("stream"),
            "collector": {
                k: status.get(k)
                for k in (
                    "events",
                    "messages",
                    "decode_errors",
                    "bad_events",
                    "dropped_intake",
                    "gaps",
                )
            },
            "load1": os.getloadavg()[0],
        }
    finally:
        if collector is not None and collector.poll() is None:
            collector.send_signal(signal.SIGTERM)
            try:
                collector.wait(15)
            except subprocess.TimeoutExpired:
                collector.kill()
        for worker in workers:
            worker.stop()
        client.close()
        server.stop()
        asyncio.run(_admin(args.dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--before", type=float, default=10.0)
    parser.add_argument("--down", type=float, default=30.0)
    parser.add_argument("--after", type=float, default=15.0)
    parser.add_argument("--modes", default="stream,pubsub")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        f"collector SIGKILLed {args.before:g} s into {args.rate:g} tasks/s, down {args.down:g} s; "
        "baseline: pub/sub (keeps nothing while no collector listens)"
    )
    for mode in args.modes.split(","):
        r = run_mode(mode, args)
        stream = r["stream"] or {}
        extra = (
            f" | stream: entries {stream.get('entries')} claimed {stream.get('claimed')} "
            f"lost(cap) {stream.get('lost')} source_dropped {stream.get('source_dropped')}"
            if stream
            else ""
        )
        print(
            f"{r['mode']:>6}: sent {r['sent']} ({r['rate']:.0f}/s; {r['sent_before_kill']} "
            f"before the kill, {r['sent_while_down']} while no collector ran)  "
            f"stored {r['stored']}  lost {r['lost']}  non-terminal "
            f"{r['non_terminal']}  (queue drained {r['drained_s']} s after the last send; "
            f"load1 {r['load1']:.2f}){extra} | after restart: {r['collector']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
