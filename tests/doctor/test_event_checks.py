"""Checks that compare what workers do with what the collector recorded, against the session's
API (its collector writes the task store and the worker registry) and extra real workers: one
without task events, one prefetching four tasks for one process, one whose clock is a minute
ahead; and tasks sent without task-sent events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis import asyncio as aioredis
from sqlalchemy import func, select

from src.collector.workers_registry import read_workers
from src.db.models.tasks import TaskRecord
from src.db.session import Database
from src.doctor.checks import sent_events, visibility_timeout, worker_events
from src.doctor.checks.clock_skew import CODE as SKEW
from src.doctor.checks.clock_skew import ClockSkewCheck
from src.doctor.checks.prefetch import CODE as PREFETCH
from src.doctor.checks.prefetch import PrefetchCheck
from src.doctor.model import Check, Severity
from src.embedded_redis import EmbeddedRedis
from tests.doctor.support import check, doctor_worker
from tests.doctor.worker_app import client
from tests.support.servers import ApiServer, WorkerProcess

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def doctor_workers(
    redis_server: EmbeddedRedis, api: ApiServer, workers: list[WorkerProcess]
) -> Iterator[dict[str, WorkerProcess]]:
    started = {
        "silent": doctor_worker(redis_server, "silent@doctor", "doctor_silent", events=False),
        "prefetch": doctor_worker(
            redis_server, "prefetch@doctor", "doctor_prefetch", {"worker_prefetch_multiplier": 4}
        ),
    }
    try:
        for worker in started.values():
            worker.wait_ready(client(redis_server.port))
        yield started
    finally:
        for worker in started.values():
            worker.stop()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def state(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client_ = aioredis.Redis.from_url(f"{redis_server.url}/0")  # the API's state Redis
    yield client_
    await client_.aclose()


async def _recorded(db: Database, *where: object, count: int = 1) -> None:
    """Until the collector has written `count` rows matching `where`."""
    deadline = time.monotonic() + 60
    while True:
        async with db.session("test") as session:
            found = (await session.execute(select(func.count()).where(*where))).scalar_one()  # type: ignore[arg-type]
        if found >= count:
            return
        assert time.monotonic() < deadline, f"{found} rows of {count} recorded"
        await asyncio.sleep(0.2)


async def test_a_worker_without_task_events(
    redis_server: EmbeddedRedis,
    doctor_workers: dict[str, WorkerProcess],
    db: Database,
    state: aioredis.Redis,
) -> None:
    app = client(redis_server.port)
    app.send_task("doctor.noop", queue="doctor_silent").get(timeout=60)
    app.send_task("doctor.noop", queue="doctor_prefetch").get(timeout=60)
    await _recorded(db, TaskRecord.worker == "prefetch@doctor")
    (advisory,) = await check(worker_events.CHECK, app, db=db, state_redis=state)
    assert advisory.code == "worker_without_task_events"
    assert "silent@doctor (1 tasks processed, none recorded)" in advisory.evidence
    assert "prefetch@doctor" not in advisory.evidence
    assert "-E" in advisory.fix


async def test_tasks_sent_without_sent_events(
    redis_server: EmbeddedRedis,
    doctor_workers: dict[str, WorkerProcess],
    db: Database,
) -> None:
    quiet = client(redis_server.port, task_send_sent_event=False)
    loud = client(redis_server.port)
    results = [quiet.send_task("doctor.unsent", queue="doctor_prefetch") for _ in range(5)]
    results += [loud.send_task("doctor.noop", queue="doctor_prefetch") for _ in range(5)]
    for result in results:
        result.get(timeout=60)
    await _recorded(db, TaskRecord.name == "doctor.unsent", count=5)
    await _recorded(db, TaskRecord.name == "doctor.noop", TaskRecord.sent_at.is_not(None), count=5)
    (advisory,) = await check(sent_events.CHECK, loud, inspect=False, db=db)
    assert advisory.code == "task_sent_events_off"
    assert "doctor.unsent (5 of 5)" in advisory.evidence
    assert "doctor.noop" not in advisory.evidence


async def test_prefetch_behind_long_tasks(
    redis_server: EmbeddedRedis, doctor_workers: dict[str, WorkerProcess], db: Database
) -> None:
    app = client(redis_server.port)
    app.send_task("doctor.sleep", args=(1.5,), queue="doctor_prefetch").get(timeout=60)
    await _recorded(db, TaskRecord.name == "doctor.sleep", TaskRecord.runtime >= 1.5)
    prefetch = Check(PREFETCH, PrefetchCheck(long_seconds=1.0).run)
    (advisory,) = await check(prefetch, app, db=db)
    assert advisory.code == "prefetch_behind_long_tasks"
    assert "prefetch@doctor: prefetch 4 for 1 processes (multiplier 4)" in advisory.evidence
    assert "alpha@tests" not in advisory.evidence  # prefetch multiplier 1: nothing held back
    assert "worker_prefetch_multiplier=1" in advisory.fix


async def test_a_worker_whose_clock_is_a_minute_ahead(
    redis_server: EmbeddedRedis,
    doctor_workers: dict[str, WorkerProcess],
    state: aioredis.Redis,
) -> None:
    app = client(redis_server.port)
    skew = Check(SKEW, ClockSkewCheck().run)
    assert await check(skew, app, inspect=False, state_redis=state) == []
    skewed = doctor_worker(redis_server, "skewed@doctor", "doctor_skewed", clock_offset=60)
    try:
        skewed.wait_ready(app)
        deadline = time.monotonic() + 60
        while True:  # until the collector has heard its heartbeat
            heard = (await read_workers(state)).get("skewed@doctor")
            if heard is not None and heard.online and heard.last_heartbeat is not None:
                break
            assert time.monotonic() < deadline, "no heartbeat from skewed@doctor"
            await asyncio.sleep(0.2)
        (advisory,) = await check(skew, app, inspect=False, state_redis=state)
        assert advisory.code == "worker_clocks_skewed"
        assert "skewed@doctor +6" in advisory.evidence  # +60 s, give or take the transit
        assert "NTP" in advisory.fix
    finally:
        skewed.stop()


async def test_runtime_longer_than_the_visibility_timeout_with_acks_late(
    redis_server: EmbeddedRedis, doctor_workers: dict[str, WorkerProcess], db: Database
) -> None:
    app = client(redis_server.port)
    app.send_task("doctor.sleep", args=(1.5,), queue="doctor_prefetch").get(timeout=60)
    await _recorded(db, TaskRecord.name == "doctor.sleep", TaskRecord.runtime >= 1.5)
    options = {"polling_interval": 0.05, "visibility_timeout": 1}
    late = client(redis_server.port, task_acks_late=True, broker_transport_options=options)
    found = await check(visibility_timeout.CHECK, late, db=db)
    (runtime,) = [a for a in found if a.severity is Severity.WARNING]
    assert "acks_late on celery-admin's app" in runtime.evidence
    assert "visibility_timeout 1 s" in runtime.evidence
    early = client(redis_server.port, broker_transport_options=options)  # acks on receipt
    found = await check(visibility_timeout.CHECK, early, db=db)
    assert not [a for a in found if a.severity is Severity.WARNING]
