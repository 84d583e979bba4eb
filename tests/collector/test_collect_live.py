"""Real workers run tasks that succeed, fail, retry and get revoked; the API's collector (a leader
job inside the served app) stores rows whose states and timestamps match what happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.collector import read_status
from src.db.engine import create_engine
from tests.collector.support import states, wait_for, wait_rows
from tests.support.servers import ApiServer, WorkerProcess

FINAL = {"SUCCESS", "FAILURE", "REVOKED"}


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_success_failure_retry_and_revoke_are_stored(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client,  # type: ignore[no-untyped-def]
    engine: AsyncEngine,
) -> None:
    send = celery_client.send_task
    ok = send("src.tasks.demo.add", args=[2, 3], queue="ai_analysis")
    broken = send("src.tasks.demo.analyze_broken", args=["no model"], queue="ai_analysis")
    flaky = send("src.tasks.demo.analyze_flaky", kwargs={"fail_times": 1}, queue="ai_analysis")
    slow = send("src.tasks.demo.analyze_slow", args=[30], queue="ai_analysis")
    ids = [ok.id, broken.id, flaky.id, slow.id]

    started = await wait_rows(engine, [slow.id], lambda r: states(r).get(slow.id) == "STARTED")
    assert states(started) == {slow.id: "STARTED"}
    celery_client.control.revoke(slow.id, terminate=True)

    rows = await wait_rows(engine, ids, lambda r: set(states(r).values()) <= FINAL and len(r) == 4)
    assert states(rows) == {
        ok.id: "SUCCESS",
        broken.id: "FAILURE",
        flaky.id: "SUCCESS",
        slow.id: "REVOKED",
    }
    good = rows[ok.id]
    assert good.name == "src.tasks.demo.add" and good.queue == "ai_analysis"
    assert good.args == "[2, 3]" and good.result == "5"
    assert good.worker in {w.hostname for w in workers}
    # task-sent is stamped after the message is published: a worker may receive it first.
    assert good.sent_at - good.received_at < timedelta(seconds=1)
    assert good.received_at <= good.started_at <= good.succeeded_at
    assert good.finished_at == good.succeeded_at
    assert good.seen_at == min(good.sent_at, good.received_at)
    assert 0 <= good.runtime <= (good.succeeded_at - good.started_at).total_seconds() + 0.05
    done = ok.get(timeout=60)
    assert done == 5
    backend_done = ok.date_done
    assert abs(good.succeeded_at - backend_done.replace(tzinfo=good.succeeded_at.tzinfo)) < (
        timedelta(seconds=1)
    )

    failed = rows[broken.id]
    assert "no model" in failed.exception and "ValueError" in failed.traceback
    assert failed.failed_at == failed.finished_at and failed.runtime is not None

    retried = rows[flaky.id]
    assert retried.retries == 1 and retried.retried_at is not None
    assert retried.received_at < retried.retried_at < retried.succeeded_at

    revoked = rows[slow.id]
    assert revoked.revoked_at == revoked.finished_at and revoked.started_at < revoked.revoked_at


async def test_collector_runs_as_the_api_leader(
    api: ApiServer, workers: list[WorkerProcess]
) -> None:
    runtime = api.runtime
    assert runtime.background.leadership is not None
    assert await wait_for(lambda: runtime.background.leadership.is_leader, 15)
    collector = runtime.collector
    assert await wait_for(lambda: collector.status()["connected"], 15)
    assert not collector.degraded
    client = aioredis.Redis.from_url(str(api.settings.pubsub_redis_url))  # another replica's view
    try:
        status = None
        for _ in range(100):  # written about once a second
            status = await read_status(client)
            if status and status["connected"] and status["rows_written"] > 0:
                break
            await asyncio.sleep(0.1)
        assert status is not None and status["connected"] and not status["degraded"]
        assert status["events"] > 0 and status["rows_written"] > 0
        assert status["dropped_overflow"] == status["dropped_intake"] == 0
    finally:
        await client.aclose()
