"""Through a real RabbitMQ: the synthetic stream published to the `celeryev` topic exchange (as
Celery's event dispatcher does) at 20,000 events/s, with the collector consuming its own durable
queue (src/collector/amqp_reader.py) through its reader thread, intake, merge and PostgreSQL
upserts; then a 30 s collector restart while events keep coming.

    .venv/bin/python bench/ingest_amqp.py [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
        [--amqp amqp://guest:guest@127.0.0.1:5672] [--management http://guest:guest@127.0.0.1:15672]

Uses the local RabbitMQ in a vhost of its own (made and deleted through the management API). The
publisher is a separate process. Sustained run: a task event is "lost" when it was published but
never merged. Restart run: the collector is stopped for `--downtime` seconds while the publisher
goes on; "kept" is what waited in the collector's queue when the next collector started, and a
task is lost when its final state (published) is not in the database at the end.
Target: no task event lost; keep up with >= 20,000 events/s sustained (as bench/ingest_redis.py);
every event published during the restart kept.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import asyncpg
import httpx
from kombu import Connection

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from publisher_amqp import event_counts  # noqa: E402

from src.collector.amqp_reader import EVENTS_QUEUE  # noqa: E402
from src.collector.collector import Collector  # noqa: E402
from src.db.engine import create_engine  # noqa: E402

ANCHOR = (
    "anchor: bench/ingest_redis.py (same stream through Redis pub/sub, where events published "
    "while the collector restarts are lost); Flower's EventReceiver queue is auto-deleted, so it "
    "keeps nothing across a restart"
)


def management(url: str) -> httpx.Client:
    parts = urlsplit(url)
    return httpx.Client(
        base_url=f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}",
        auth=(parts.username or "guest", parts.password or "guest"),
        timeout=30,
    )


def make_vhost(management_url: str, user: str) -> str:
    name = f"celery-admin-bench-{uuid.uuid4().hex[:8]}"
    with management(management_url) as client:
        client.put(f"/api/vhosts/{quote(name, safe='')}").raise_for_status()
        client.put(
            f"/api/permissions/{quote(name, safe='')}/{user}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        ).raise_for_status()
    return name


def drop_vhost(management_url: str, name: str) -> None:
    with management(management_url) as client:
        client.delete(f"/api/vhosts/{quote(name, safe='')}")


def waiting_messages(broker_url: str) -> int:
    with Connection(broker_url) as conn:
        _, messages, _ = conn.default_channel.queue_declare(EVENTS_QUEUE, passive=True)
        return int(messages)


@asynccontextmanager
async def database(dsn: str) -> AsyncIterator[str]:
    name = f"celery_admin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{dsn.rsplit('/', 1)[0]}/{name}"
    try:
        migrate = f"from src.db.migrations import upgrade; upgrade({url!r})"
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", migrate], check=True, cwd=ROOT
        )
        yield url
    finally:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class Run:
    """One collector at a time on the broker, all writing into the same database."""

    def __init__(self, db_url: str, broker_url: str) -> None:
        self.engine = create_engine(db_url)
        self.broker_url = broker_url
        self.collector: Collector | None = None
        self.job: asyncio.Task[None] | None = None
        self.merged = 0

    async def start(self) -> Collector:
        collector = Collector(engine=self.engine, broker_url=self.broker_url, flush_interval=0.5)
        self.collector = collector
        self.job = asyncio.create_task(collector.run())
        while not (collector.reader and collector.reader.connected.is_set()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return collector

    async def stop(self) -> None:
        assert self.job is not None and self.collector is not None
        self.job.cancel()
        await asyncio.gather(self.job, return_exceptions=True)  # the final flush happens here
        self.merged += self.collector.merger.merged
        self.job = None

    async def rows(self) -> tuple[int, int]:
        conn = await asyncpg.connect(str(self.engine.url.set(drivername="postgresql")))
        try:
            rows = await conn.fetchval("SELECT count(*) FROM celery_task_results_ext")
            finished = await conn.fetchval(
                "SELECT count(*) FROM celery_task_results_ext WHERE state IN ('SUCCESS','FAILURE')"
            )
        finally:
            await conn.close()
        return int(rows), int(finished)


async def publish(
    stream: Path, broker_url: str, rate: float, max_events: int, on_progress: Any = None
) -> dict[str, float]:
    """Run the publisher; `on_progress(seconds, events, publisher)` on each progress line."""
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "publisher_amqp.py"),
        str(stream),
        broker_url,
        str(rate),
        str(max_events),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert publisher.stdout is not None
    result: dict[str, float] = {}
    while line := await publisher.stdout.readline():
        words = line.decode().split()
        if words[0] == "progress" and on_progress is not None:
            await on_progress(float(words[1]), int(words[2]), publisher)
        elif words[0] == "done":
            keys = ("messages", "events", "task_events", "finished", "tasks", "seconds")
            result = dict(zip(keys, map(float, words[1:]), strict=True))
    await publisher.wait()
    return result


async def pause(publisher: Any) -> tuple[int, int]:
    """Stop the publisher until `resume`; (messages, events) it had published."""
    publisher.stdin.write(b"pause\n")
    await publisher.stdin.drain()
    while line := await publisher.stdout.readline():
        words = line.decode().split()
        if words[0] == "paused":
            return int(words[1]), int(words[2])
    raise RuntimeError("the publisher ended")


async def resume(publisher: Any) -> None:
    publisher.stdin.write(b"resume\n")
    await publisher.stdin.drain()


async def caught_up(run: Run, collector: Collector, task_events: int, within: float) -> float:
    deadline = time.monotonic() + within
    while run.merged + collector.merger.merged < task_events and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def sustained(dsn: str, stream: Path, broker_url: str, rate: float, events: int) -> None:
    async with database(dsn) as url:
        run = Run(url, broker_url)
        collector = await run.start()
        await asyncio.sleep(0.5)  # past the start-up reconcile
        sent = await publish(stream, broker_url, rate, events)
        published_at = time.perf_counter()
        done_at = await caught_up(run, collector, int(sent["task_events"]), 120)
        await run.stop()
        rows, finished = await run.rows()
        lost = int(sent["task_events"]) - run.merged
        through = sent["events"] / (sent["seconds"] + done_at - published_at)
        print(
            f"sustained at {rate:,.0f} events/s: published {int(sent['events']):,} events "
            f"({int(sent['task_events']):,} task events, {int(sent['messages']):,} messages) "
            f"in {sent['seconds']:.2f} s"
        )
        print(
            f"  task events lost: {lost:,}; caught up {done_at - published_at:.2f} s after the "
            f"last publish: {through:,.0f} events/s from first publish to last event merged; "
            f"intake drops {collector.intake.dropped if collector.intake else 0}"
        )
        print(f"  rows {rows:,} ({finished:,} finished, {int(sent['finished']):,} expected)")
        await run.engine.dispose()


async def restart(
    dsn: str, stream: Path, broker_url: str, rate: float, events: int, downtime: float
) -> None:
    async with database(dsn) as url:
        run = Run(url, broker_url)
        await run.start()
        await asyncio.sleep(0.5)
        marks: dict[str, float] = {}
        counts = event_counts(stream, events)

        async def on_progress(seconds: float, published: int, publisher: Any) -> None:
            if "stopped" not in marks and seconds >= 3.0:
                await run.stop()
                marks["stopped"] = float(published)
                marks["stop_t"] = time.monotonic()
            elif (
                "started" not in marks
                and "stop_t" in marks
                and time.monotonic() - marks["stop_t"] >= downtime
            ):
                # A moment's pause of the publisher, to count exactly what waits in the queue:
                # the last `kept` messages it published.
                messages, published = await pause(publisher)
                kept = await asyncio.to_thread(waiting_messages, broker_url)
                marks["kept_messages"] = float(kept)
                marks["kept_events"] = float(sum(counts[messages - kept : messages]))
                marks["started"] = float(published)
                await resume(publisher)
                run.collector = await run.start()

        sent = await publish(stream, broker_url, rate, events, on_progress)
        assert run.collector is not None and "started" in marks, "publishing ended too soon"
        await caught_up(run, run.collector, int(sent["task_events"]), 180)
        await run.stop()
        rows, finished = await run.rows()
        during = int(marks["started"] - marks["stopped"])
        print(
            f"restart: {int(sent['events']):,} events at {rate:,.0f}/s; the collector stopped "
            f"for {downtime:.0f} s while about {during:,} events were published"
        )
        print(
            f"  kept across the restart: {int(marks['kept_events']):,} events "
            f"({int(marks['kept_messages']):,} messages) waiting in {EVENTS_QUEUE} when the next "
            "collector started, all of them collected"
        )
        lost_tasks = int(sent["finished"]) - finished
        print(
            f"  tasks whose final state was published: {int(sent['finished']):,}; in the "
            f"database finished: {finished:,} (lost {lost_tasks:,}); rows {rows:,} of "
            f"{int(sent['tasks']):,} tasks; task events merged {run.merged:,} of "
            f"{int(sent['task_events']):,} published (redelivered ones count twice)"
        )
        await run.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672")
    parser.add_argument("--management", default="http://guest:guest@127.0.0.1:15672")
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--restart-rate", type=float, default=2_000)
    parser.add_argument("--downtime", type=float, default=30.0)
    args = parser.parse_args()
    user = urlsplit(args.amqp).username or "guest"
    vhost = make_vhost(args.management, user)
    broker_url = f"{args.amqp}/{quote(vhost, safe='')}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stream = Path(tmp) / "stream.bin"
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "stream.py"), str(stream)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            asyncio.run(sustained(args.dsn, stream, broker_url, args.rate, args.events))
            restart_events = int(args.restart_rate * (args.downtime + 10))
            asyncio.run(
                restart(
                    args.dsn,
                    stream,
                    broker_url,
                    args.restart_rate,
                    restart_events,
                    args.downtime,
                )
            )
    finally:
        drop_vhost(args.management, vhost)
    print(f"  load average (1 min) {os.getloadavg()[0]:.2f}")
    print(
        "  target: no task event lost; >= 20,000 events/s sustained; "
        "everything published during the restart kept"
    )
    print(f"  {ANCHOR}")


if __name__ == "__main__":
    main()
