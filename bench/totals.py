"""What the task-totals triggers (migration 0002) cost the collector's writes into PostgreSQL.

    .venv/bin/python bench/totals.py [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--tasks 40000] [--rounds 3]

Writes `--tasks` tasks through the collector's own writer (`TaskStore.upsert`, 4,000-row
statements) as the collector does: each task once while running (an insert) and once finished
(an update, with its runtime), into a fresh database, with the triggers on and (the anchor) with
them disabled, alternating for `--rounds` rounds. Prints the median wall time and the CPU seconds
of the PostgreSQL backends (from /proc, the server runs here) per 10,000 tasks, and this process's
CPU, for both; and checks that the totals counted every task.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from src.collector.store import TaskStore  # noqa: E402
from src.db.engine import create_engine  # noqa: E402

BATCH = 4000
TICK = os.sysconf("SC_CLK_TCK")
NAMES = [f"proj.task_{i}" for i in range(40)]
QUEUES = ["ai_analysis", "maintenance", "health"]


def rows(tasks: int, *, finished: bool) -> list[dict[str, Any]]:
    t0 = time.time() - 3600
    out = []
    for i in range(tasks):
        at = t0 + i * 0.01
        row: dict[str, Any] = {
            "task_id": f"bench-{i:08d}",
            "name": NAMES[i % len(NAMES)],
            "queue": QUEUES[i % len(QUEUES)],
            "routing_key": QUEUES[i % len(QUEUES)],
            "worker": f"w{i % 8}@bench",
            "args": f"({i}, 'x')",
            "kwargs": "{}",
            "retries": 0,
            "sent_at": at,
            "received_at": at + 0.1,
            "started_at": at + 0.2,
            "seen_at": at,
            "state": "STARTED",
            "last_event_at": at + 0.2,
        }
        if finished:
            failed = i % 10 == 0
            row.update(
                state="FAILURE" if failed else "SUCCESS",
                last_event_at=at + 1.2,
                finished_at=at + 1.2,
                runtime=1.0 + (i % 7) * 0.3,
                result=None if failed else f"'ok {i}'",
                exception="ValueError('x')" if failed else None,
                traceback="Traceback ...\nValueError: x" if failed else None,
                **({"failed_at": at + 1.2} if failed else {"succeeded_at": at + 1.2}),
            )
        out.append(row)
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


async def backend_cpu(conn: asyncpg.Connection, database: str) -> float:
    """CPU seconds used so far by the server processes serving `database`."""
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    return cpu_seconds([r["pid"] for r in rows])


async def one_round(dsn: str, tasks: int, *, triggers: bool) -> dict[str, float]:
    name = f"celery_admin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{dsn.rsplit('/', 1)[0]}/{name}"
    try:
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", f"from src.db.migrations import upgrade; upgrade({url!r})"],
            check=True,
            cwd=ROOT,
        )
        conn = await asyncpg.connect(url)
        if not triggers:
            await conn.execute("ALTER TABLE celery_task_results_ext DISABLE TRIGGER USER")
        engine = create_engine(url, pool_size=1)
        store = TaskStore(engine)
        running, finished = rows(tasks, finished=False), rows(tasks, finished=True)
        await store.upsert(running[:10])  # connect (and warm up) before measuring
        server0, cpu0, t0 = await backend_cpu(admin, name), time.process_time(), time.perf_counter()
        for start in range(0, tasks, BATCH):
            await store.upsert(running[start : start + BATCH])
            await store.upsert(finished[start : start + BATCH])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        server = await backend_cpu(admin, name) - server0
        counted = await conn.fetchval(
            "SELECT coalesce(sum(tasks), 0) FROM celery_task_totals WHERE state = 'SEEN'"
        )
        finals = await conn.fetchval(
            "SELECT coalesce(sum(tasks), 0) FROM celery_task_totals "
            "WHERE state IN ('SUCCESS', 'FAILURE')"
        )
        await conn.close()
        await engine.dispose()
        if triggers:
            assert counted == tasks and finals == tasks, (counted, finals)
        else:
            assert counted == 0
        return {"elapsed": elapsed, "cpu": cpu, "server": server}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(dsn: str, tasks: int, rounds: int) -> dict[bool, list[dict[str, float]]]:
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for i in range(rounds):
        for triggers in (True, False) if i % 2 == 0 else (False, True):
            results[triggers].append(await one_round(dsn, tasks, triggers=triggers))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tasks", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(run(args.dsn, args.tasks, args.rounds))
    per = 10_000 / args.tasks
    print(f"totals: {args.tasks:,} tasks written twice (running, finished) in {BATCH:,}-row "
          f"statements, median of {args.rounds} rounds; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    medians = {}
    for triggers, label in ((False, "anchor, triggers disabled"), (True, "with the triggers")):
        found = results[triggers]
        medians[triggers] = {k: statistics.median(r[k] for r in found) for k in found[0]}
        m = medians[triggers]
        print(
            f"  {label:26} {m['elapsed'] * per:6.3f} s wall, {m['server'] * per:6.3f} "
            f"server CPU-s, {m['cpu'] * per:6.3f} client CPU-s per 10,000 tasks"
        )
    on, off = medians[True], medians[False]
    print(
        f"  the triggers add {100 * (on['server'] / off['server'] - 1):+.0f}% server CPU, "
        f"{100 * (on['elapsed'] / off['elapsed'] - 1):+.0f}% wall"
    )


if __name__ == "__main__":
    main()
