"""Durable mode end to end: real workers with `celery_admin_events` installed, a real Redis of
their own, real PostgreSQL. Events and exact args land through the stream; a collector that dies
before its write loses nothing (its entries stay pending and the next one claims them); what
falls off a stream's cap is counted; a vanished task is settled; retry uses the stored args."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from redis import asyncio as aioredis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from celery_admin_events.layout import GROUP, stream_key, stream_keys
from celery_admin_events.mirror import Mirror
from src.collector.collector import Collector
from src.collector.settle import Settler
from src.collector.stream_reader import StreamReader
from src.control.inspector import Inspector
from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from src.embedded_redis import EmbeddedRedis
from src.monitoring.alert_rules import DEFAULT_COLLECTOR_DROPPING
from src.monitoring.observations import Verdict, collector_dropping
from src.monitoring.sample import MetricsSample
from src.monitoring.sampler import collector_sample
from tests.collector.events import kombu_payload, task_event
from tests.collector.support import fetch_rows, states, wait_for, wait_rows
from tests.conftest import DB_KIND
from tests.support.servers import (
    PG_ADMIN_DSN,
    WorkerProcess,
    client_app,
    redis_binary,
    temporary_database,
)

QUEUE = "durable"
SHARDS = 2
HOSTS = ("d1@durable", "d2@durable")
FINAL = {"SUCCESS", "FAILURE"}


@pytest.fixture(scope="module")
def redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def durable_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(DB_KIND, Path(tmp_path_factory.mktemp("durabledb"))) as url:
        yield url


@pytest.fixture(scope="module")
def client(redis: EmbeddedRedis) -> Celery:
    app = client_app(redis)
    app.conf.result_extended = False
    return app


@pytest.fixture(scope="module")
def durable_workers(redis: EmbeddedRedis, client: Celery) -> Iterator[list[WorkerProcess]]:
    env = {"EVENT_STREAM_SHARDS": str(SHARDS)}
    started = [
        WorkerProcess(redis, host, queues=QUEUE, app="tests.collector.durable_app.app", env=env)
        for host in HOSTS
    ]
    try:
        for worker in started:
            worker.wait_ready(client)
        yield started
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
async def engine(durable_db: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(durable_db)
    yield engine
    await engine.dispose()


@pytest.fixture
async def streams(redis: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(f"{redis.url}/0")
    yield client
    await client.aclose()


def durable_collector(
    engine: AsyncEngine, redis: EmbeddedRedis, streams: aioredis.Redis
) -> Collector:
    # No result backend and no pub/sub reader worth speaking of: the stream is the only source
    # of what happened while no collector ran.
    collector = Collector(engine=engine, broker_url=f"{redis.url}/0", flush_interval=0.2)
    collector.durable = StreamReader(streams, collector, shards=SHARDS)
    return collector


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def pending_entries(streams: aioredis.Redis) -> int:
    total = 0
    for key in stream_keys(SHARDS):
        with_group = await streams.xinfo_groups(key)
        total += sum(int(g["pending"]) for g in with_group if g["name"] in (GROUP, GROUP.encode()))
    return total


def send(client: Celery, n: int, offset: int = 0) -> list[str]:
    return [
        client.send_task("src.tasks.demo.add", args=[i, offset], kwargs={}, queue=QUEUE).id
        for i in range(n)
    ]


async def wait_done(client: Celery, ids: list[str]) -> None:
    for task_id in ids:
        await asyncio.to_thread(client.AsyncResult(task_id).get, timeout=60)


async def test_events_and_exact_args_land_through_the_stream(
    durable_workers: list[WorkerProcess],
    client: Celery,
    engine: AsyncEngine,
    redis: EmbeddedRedis,
    streams: aioredis.Redis,
) -> None:
    collector = durable_collector(engine, redis, streams)
    running = asyncio.create_task(collector.run())
    try:
        assert collector.durable is not None
        assert await wait_for(collector.durable.connected.is_set, 15)
        ids = send(client, 6)
        ids.append(
            client.send_task("src.tasks.demo.add", args=[1], kwargs={"y": 2}, queue=QUEUE).id
        )
        # A secret-looking keyword (the task fails on it: no matter, its call is what counts).
        ids.append(
            client.send_task(
                "src.tasks.demo.add", args=[1, 2], kwargs={"api_token": "s3cret"}, queue=QUEUE
            ).id
        )
        rows = await wait_rows(
            engine, ids, lambda r: len(r) == len(ids) and set(states(r).values()) <= FINAL
        )
        assert len(rows) == len(ids) and states(rows)[ids[-1]] == "FAILURE"
        assert {states(rows)[i] for i in ids[:-1]} == {"SUCCESS"}
        first = rows[ids[0]]
        assert first.args_json == [0, 0] and first.kwargs_json == {}
        assert first.args_status == "exact" and first.worker in HOSTS and first.queue == QUEUE
        assert rows[ids[6]].args_json == [1] and rows[ids[6]].kwargs_json == {"y": 2}
        masked = rows[ids[7]]
        assert masked.args_status == "redacted" and masked.kwargs_json == {"api_token": "********"}
        assert await wait_for(lambda: collector.durable.status()["acked"] >= 8 * 4, 15)
        status = collector.status()["stream"]
        assert status["lost"] == 0 and status["bad_entries"] == 0
        assert await wait_for(lambda: collector.durable.status()["unacked"] == 0, 15)
    finally:
        await stop(running)
    # Both hostnames' shards were written (each worker writes only its own shard).
    lengths = [await streams.xlen(key) for key in stream_keys(SHARDS)]
    assert sum(lengths) > 0


async def test_stream_mode_merges_a_streamed_workers_events_once(
    redis: EmbeddedRedis, engine: AsyncEngine, streams: aioredis.Redis
) -> None:
    # A worker with the extension also sends its task events by pub/sub: once the stream shows
    # it as a producer, those copies are skipped (merged once, from the stream). A client's
    # task-sent (no extension there) still comes from pub/sub. The worker event published last,
    # on the same connection, is seen: the task events before it had their chance.
    host = f"once-{uuid.uuid4().hex[:6]}@durable"
    mirror = Mirror(f"{redis.url}/0", shards=SHARDS, maxlen=1_000_000)
    streamed_id, copied_id, sent_id = (str(uuid.uuid4()) for _ in range(3))
    now = time.time()
    mirror.put(host, task_event("received", streamed_id, now, hostname=host, name="x"))
    mirror.stop(timeout=10)
    collector = durable_collector(engine, redis, streams)
    running = asyncio.create_task(collector.run())
    try:
        assert collector.durable is not None
        assert await wait_for(lambda: host in collector.durable.hostnames, 15)
        assert await wait_for(lambda: collector.reader is not None, 15)
        assert await wait_for(collector.reader.connected.is_set, 15)
        copy = task_event("received", copied_id, now, hostname=host, name="x")
        sent = task_event("sent", sent_id, now, hostname="client@durable", name="x")
        worker = {"type": "worker-online", "hostname": host, "timestamp": now, "freq": 2.0,
                  "sw_ident": "py-celery", "sw_ver": "5", "sw_sys": "Linux"}  # fmt: skip
        for routing_key, event in (("task.received", copy), ("task.sent", sent),
                                   ("worker.online", worker)):  # fmt: skip
            await streams.publish(f"/0.celeryev/{routing_key}", kombu_payload(event, routing_key))
        assert await wait_for(lambda: host in collector.workers.workers, 15)
        assert copied_id not in collector.merger.pending
        assert await collector.flush()
        rows = await fetch_rows(engine, [streamed_id, copied_id, sent_id])
        assert set(rows) == {streamed_id, sent_id}
    finally:
        await stop(running)


async def test_a_collector_that_never_wrote_loses_nothing(
    durable_workers: list[WorkerProcess],
    client: Celery,
    engine: AsyncEngine,
    redis: EmbeddedRedis,
    streams: aioredis.Redis,
) -> None:
    # A collector whose database does not exist reads entries but can never write them: it
    # must not acknowledge anything, and the entries stay pending for whoever comes next.
    base = PG_ADMIN_DSN.rsplit("/", 1)[0] if DB_KIND == "postgresql" else None
    broken_url = (
        f"{base}/no_such_db_{uuid.uuid4().hex[:6]}" if base else "sqlite:////nonexistent/x.db"
    )
    broken = create_engine(broken_url)
    doomed = durable_collector(broken, redis, streams)
    running = asyncio.create_task(doomed.run())
    try:
        assert doomed.durable is not None
        assert await wait_for(doomed.durable.connected.is_set, 15)
        ids = send(client, 20, offset=100)
        await wait_done(client, ids)
        assert await wait_for(lambda: doomed.durable.status()["entries"] > 0, 30)
        assert await wait_for(lambda: doomed.degraded, 15)  # it stops reading, too
        assert doomed.durable.status()["acked"] == 0
    finally:
        await stop(running)  # as good as killed: its last flush fails too
        await broken.dispose()
    # Everything it read is still pending (the rest was never read): nothing was acknowledged.
    read = doomed.durable.status()["entries"]
    assert read > 0 and await pending_entries(streams) == read

    # Tasks run while no collector runs at all: only the stream has them.
    more = send(client, 10, offset=200)
    await wait_done(client, more)

    heir = durable_collector(engine, redis, streams)
    running = asyncio.create_task(heir.run())
    try:
        ids += more
        rows = await wait_rows(
            engine, ids, lambda r: len(r) == len(ids) and set(states(r).values()) <= FINAL, 60
        )
        assert len(rows) == len(ids) and set(states(rows).values()) == {"SUCCESS"}
        assert all(row.args_status == "exact" for row in rows.values())
        assert heir.durable is not None and heir.durable.claimed == read
        assert await wait_for(lambda: heir.durable.status()["unacked"] == 0, 15)
        assert await wait_for_async(lambda: pending_entries(streams), 0, 15)
        assert heir.durable.status()["lost"] == 0
    finally:
        await stop(running)


async def wait_for_async(probe, expected: int, within: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await probe() == expected:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_the_mirror_never_holds_up_a_worker_when_redis_is_down() -> None:
    # Nothing listens on this port: every write fails. `put` stays instant and bounded; what
    # does not fit is dropped and counted, its sequence number skipped (the reader's gap).
    from src.embedded_redis import free_port

    mirror = Mirror(f"redis://127.0.0.1:{free_port()}/0", shards=1, maxlen=100, max_buffer=100)
    for i in range(300):
        mirror.put("down@durable", {"type": "task-received", "uuid": str(i), "timestamp": 1.0})
    # At most 100 buffered, plus at most one batch (taken from those) held by the failing writer.
    assert 100 <= mirror.dropped <= 200 and len(mirror.buffer) <= 100
    assert await asyncio.to_thread(wait_until, lambda: mirror.write_errors > 0, 15)
    mirror.stop(timeout=3)
    assert mirror.sent == 0


def wait_until(condition, within: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def test_what_falls_off_the_cap_is_counted(
    redis: EmbeddedRedis, engine: AsyncEngine, streams: aioredis.Redis
) -> None:
    # A producer writes 50 events; the stream keeps only the last 10 of them (an exact trim, as
    # the approximate one would after many more); the reader counts the 40 it never saw.
    host = f"cap-{uuid.uuid4().hex[:6]}@durable"
    mirror = Mirror(f"{redis.url}/0", shards=SHARDS, maxlen=1_000_000)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    for task_id in ids:
        mirror.put(host, {"type": "task-received", "uuid": task_id, "timestamp": time.time(),
                          "name": "x", "hostname": host})  # fmt: skip
    mirror.stop(timeout=10)
    assert mirror.sent == 50 and mirror.dropped == 0
    from celery_admin_events.layout import shard_of

    key = stream_key(shard_of(host, SHARDS))
    # Everything before this producer's entries was read by the earlier tests: trim to the
    # last 10 entries of the stream, all of them this producer's.
    await streams.xtrim(key, maxlen=10, approximate=False)
    collector = durable_collector(engine, redis, streams)
    running = asyncio.create_task(collector.run())
    try:
        rows = await wait_rows(engine, ids[-10:], lambda r: len(r) == 10)
        assert len(rows) == 10
        assert collector.durable is not None
        assert await wait_for(lambda: collector.durable.status()["lost"] == 40, 15)
        assert collector.status()["stream"]["lost"] == 40
        # The loss counts with every other drop: by reason, dropping and degraded (from the
        # sweep, which runs every second), and the collector_dropping alert fires on it.
        assert collector.dropped_events()["stream_gap"] == 40
        assert await wait_for(lambda: collector.status()["dropping"], 15)
        status = collector.status()
        assert status["degraded"] and status["dropped_stream_gap"] == 40
        sample = MetricsSample.model_construct(collector=collector_sample(status))
        [seen] = collector_dropping(DEFAULT_COLLECTOR_DROPPING, sample)
        assert seen.verdict is Verdict.FIRING and "stream_gap 40" in seen.message
    finally:
        await stop(running)


async def test_a_vanished_task_is_settled(
    durable_workers: list[WorkerProcess],
    client: Celery,
    engine: AsyncEngine,
    redis: EmbeddedRedis,
    streams: aioredis.Redis,
) -> None:
    collector = durable_collector(engine, redis, streams)
    running = asyncio.create_task(collector.run())
    inspector = Inspector(client, timeout=1.0, cache_ttl=0)
    try:
        done = send(client, 1, offset=300)
        await wait_done(client, done)
        await wait_rows(engine, done, lambda r: states(r) == {done[0]: "SUCCESS"})
        # Two tasks stuck as their last events left them: one whose end the result backend
        # knows (its end event "lost": the row is set back to STARTED), one nobody knows.
        ghost = str(uuid.uuid4())
        old = datetime.now(UTC) - timedelta(hours=1)
        async with engine.begin() as conn:
            await conn.execute(
                update(TaskRecord)
                .where(TaskRecord.task_id == done[0])
                .values(state="STARTED", last_event_at=old)
            )
            await conn.execute(
                TaskRecord.__table__.insert().values(
                    task_id=ghost, state="RECEIVED", worker=HOSTS[0], seen_at=old,
                    last_event_at=old, name="src.tasks.demo.add",
                )
            )  # fmt: skip
        settler = Settler(engine, inspector, client, after=60)
        outcome = await settler.settle_once(collector)
        assert outcome == {"checked": 2, "from_backend": 1, "unknown": 1}
        rows = await wait_rows(
            engine, [done[0], ghost], lambda r: states(r) == {done[0]: "SUCCESS", ghost: "UNKNOWN"}
        )
        assert states(rows) == {done[0]: "SUCCESS", ghost: "UNKNOWN"}
        again = await settler.settle_once(collector)
        assert again["unknown"] == 0 and again["from_backend"] == 0
    finally:
        inspector.close()
        await stop(running)


async def test_retry_uses_the_recorded_args(
    durable_workers: list[WorkerProcess],
    client: Celery,
    engine: AsyncEngine,
    redis: EmbeddedRedis,
    streams: aioredis.Redis,
    durable_db: str,
) -> None:
    from src.control.errors import Unsupported
    from src.control.locate import TaskLocator
    from src.control.tasks import retry_task
    from src.runtime import Runtime
    from tests.support.servers import make_settings

    collector = durable_collector(engine, redis, streams)
    running = asyncio.create_task(collector.run())
    settings = make_settings(redis, durable_db, collector_enabled=False)
    runtime = Runtime.build(settings)
    try:
        task = client.send_task("src.tasks.demo.add", args=[20], kwargs={"y": 22}, queue=QUEUE)
        assert await asyncio.to_thread(task.get, timeout=60) == 42
        rows = await wait_rows(engine, [task.id], lambda r: states(r) == {task.id: "SUCCESS"})
        assert rows[task.id].args_json == [20] and rows[task.id].kwargs_json == {"y": 22}
        # Without extended results the backend knows no args: only the stored ones can serve.
        assert isinstance(runtime.control.locator, TaskLocator)
        result = await retry_task(runtime.control, task.id)
        new_id = result.data["task_ids"][0]
        assert await asyncio.to_thread(client.AsyncResult(new_id).get, timeout=60) == 42
        # A call recorded with secrets masked is shown, never re-sent with the masks.
        masked = client.send_task(
            "src.tasks.demo.add", args=[1], kwargs={"y": 1, "password": "pw"}, queue=QUEUE
        )
        rows = await wait_rows(engine, [masked.id], lambda r: states(r) == {masked.id: "FAILURE"})
        assert rows[masked.id].args_status == "redacted"
        with pytest.raises(Unsupported, match="redacted"):
            await retry_task(runtime.control, masked.id)
    finally:
        await runtime.stop()
        await stop(running)
