"""Revokes made while every worker is down, against real worker restarts (no hook called by hand).

- With mingle (Celery's default), ten restarts in a row: a revoked plain task and a revoked task
  with an ETA, both waiting in the queue (message removal off, so the worker does receive them),
  are discarded by the restarted worker, never run; a canary sent after them runs, so the worker
  did take the queue each time.
- Without mingle: the re-send is repeated until the worker acknowledges; an ETA task it holds is
  then discarded when its ETA comes.
- With message removal on (the default, Redis broker): the waiting messages are gone at once,
  priority sub-queues included, the tasks are REVOKED in the result backend, and the audit row
  says what was removed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis as sync_redis
from celery import Celery
from celery.result import AsyncResult

from src.auth.roles import Role
from src.embedded_redis import EmbeddedRedis
from tests.control.conftest import stop_worker, wait_for
from tests.support.audit import audit_row
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, WorkerProcess, make_settings, running_api

RESTARTS = 10
FINAL = {"SUCCESS", "FAILURE", "REVOKED"}
REVOKE = """
mutation($id: String!) {
  revokeTask(id: $id, terminate: false, signal: "SIGTERM") {
    ok auditId errors { field message code } observed
  }
}
"""


@pytest.fixture(scope="module")
def keeping_api(redis_server: EmbeddedRedis, database_url: str) -> Iterator[ApiServer]:
    """An API replica that leaves revoked messages queued (REVOKE_REMOVE_QUEUED=false), so the
    workers do receive them and must discard them themselves."""
    settings = make_settings(redis_server, database_url, revoke_remove_queued=False)
    with running_api(settings) as server:
        yield server


async def _revoke(http: httpx.AsyncClient, api: ApiServer, task_id: str) -> dict[str, Any]:
    token = mint(api.settings, Role.ADMIN)
    payload = (await gql(http, api.graphql_url, REVOKE, {"id": task_id}, token=token)).ok()
    result: dict[str, Any] = payload["revokeTask"]
    assert result["ok"] is True, result
    return result


async def _final_state(result: AsyncResult, within: float = 90.0) -> str:
    state: str = await asyncio.to_thread(
        wait_for, lambda: result.state if result.state in FINAL else None, within
    )
    return state


def _ran(workers: list[WorkerProcess], task_id: str) -> bool:
    return any(f"[{task_id}] succeeded" in w.log.read_text() for w in workers)


@pytest.mark.timeout(900)
async def test_revoked_while_every_worker_is_down_never_runs_over_ten_restarts(
    keeping_api: ApiServer,
    redis_server: EmbeddedRedis,
    celery_client: Celery,
    http: httpx.AsyncClient,
) -> None:
    queue = f"phoenix_{uuid.uuid4().hex[:6]}"
    hostname = f"phoenix-{uuid.uuid4().hex[:6]}@tests"
    incarnations = [WorkerProcess(redis_server, hostname, queues=queue, mingle=True)]
    revoked: list[AsyncResult] = []
    try:
        await asyncio.to_thread(incarnations[-1].wait_ready, celery_client)
        for restart in range(RESTARTS):
            await asyncio.to_thread(incarnations[-1].stop)  # the queue's only worker is down
            plain = celery_client.send_task("src.tasks.demo.add", args=[restart, 0], queue=queue)
            eta = celery_client.send_task(
                "src.tasks.demo.add", args=[restart, 1], queue=queue, countdown=3
            )
            canary = celery_client.send_task("src.tasks.demo.add", args=[restart, 2], queue=queue)
            for result in (plain, eta):
                answer = await _revoke(http, keeping_api, result.id)
                assert "removed_from_queue" not in answer["observed"]  # still queued
            revoked += [plain, eta]
            incarnations.append(WorkerProcess(redis_server, hostname, queues=queue, mingle=True))
            # The canary was queued behind both: once it has run, the worker had them.
            assert await _final_state(canary) == "SUCCESS", f"restart {restart}"
            assert await _final_state(plain) == "REVOKED", f"restart {restart}: plain"
            assert await _final_state(eta) == "REVOKED", f"restart {restart}: eta"
    finally:
        for worker in incarnations:
            worker.stop()
    assert len(revoked) == 2 * RESTARTS
    assert not [r.id for r in revoked if _ran(incarnations, r.id)]
    # celery-admin's node answered the hellos; it is no worker: it never answers a ping.
    assert "mingle: sync with" in incarnations[-1].log.read_text()
    assert not [h for h in (celery_client.control.ping(timeout=1) or []) if "celery-admin." in h]


async def test_without_mingle_the_revoke_is_resent_until_acknowledged(
    keeping_api: ApiServer,
    redis_server: EmbeddedRedis,
    celery_client: Celery,
    http: httpx.AsyncClient,
) -> None:
    """No hook is called here: the worker's own start (worker-online, discovery) triggers it."""
    queue = f"late_{uuid.uuid4().hex[:6]}"
    hostname = f"late-{uuid.uuid4().hex[:6]}@tests"
    # An ETA leaves the task waiting on the worker after it took it: the re-send reaches the
    # worker (retried until it answers) long before then, and the worker discards it. A loaded
    # machine can take 20 s to start a worker, so the ETA leaves a wide margin.
    result = celery_client.send_task("src.tasks.demo.add", args=[1, 1], queue=queue, countdown=60)
    await _revoke(http, keeping_api, result.id)
    worker = WorkerProcess(redis_server, hostname, queues=queue)
    try:
        await asyncio.to_thread(worker.wait_ready, celery_client)

        def has_revoke() -> bool:
            revoked = celery_client.control.inspect(destination=[hostname], timeout=1).revoked()
            return result.id in (revoked or {}).get(hostname, [])

        await asyncio.to_thread(wait_for, has_revoke, 60)
        assert await _final_state(result, within=150) == "REVOKED"
        assert not _ran([worker], result.id)
    finally:
        stop_worker(keeping_api, worker)


async def test_revoke_takes_the_waiting_message_out_where_the_broker_can(
    api: ApiServer,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
    broker_kind: str,
) -> None:
    """Redis: the revoked task's message leaves its queue at once. RabbitMQ cannot take one
    message out of a queue: the answer says so, the message stays, and the revoke (durable,
    re-sent to workers that start) makes any worker that receives it discard it."""
    queue = f"doomed_{uuid.uuid4().hex[:6]}"
    doomed = celery_client.send_task("src.tasks.demo.add", args=[1, 2], queue=queue)
    celery_client.send_task("src.tasks.demo.add", args=[5, 6], queue=queue)
    answer = await _revoke(http, api, doomed.id)
    length = "query($n: String!) { queue(name: $n) { length } }"
    waiting = (await gql(http, api.graphql_url, length, {"n": queue}, token=admin_token)).ok()
    if broker_kind == "redis":
        assert answer["observed"]["removed_from_queue"] == {doomed.id: queue}
        assert waiting["queue"]["length"] == 1
    else:
        assert answer["observed"]["queue_removal"].startswith("not supported on amqp")
        assert "removed_from_queue" not in answer["observed"]
        assert waiting["queue"]["length"] == 2


@pytest.mark.redis_broker
async def test_revoke_removes_the_waiting_messages(
    api: ApiServer,
    redis_server: EmbeddedRedis,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    queue = f"doomed_{uuid.uuid4().hex[:6]}"
    broker = sync_redis.Redis.from_url(f"{redis_server.url}/0")
    # A queue nobody consumes yet; one plain message and one on a priority sub-queue.
    plain = celery_client.send_task("src.tasks.demo.add", args=[1, 2], queue=queue)
    urgent = celery_client.send_task("src.tasks.demo.add", args=[3, 4], queue=queue, priority=9)
    kept = celery_client.send_task("src.tasks.demo.add", args=[5, 6], queue=queue)
    keys = [k for k in broker.keys(f"{queue}*") if broker.type(k) == b"list"]
    assert len(keys) == 2  # the queue and one priority sub-queue

    def waiting() -> int:
        return sum(int(broker.llen(k)) for k in keys)

    assert waiting() == 3
    for result in (plain, urgent):
        variables = {"id": result.id}
        answer = (await gql(http, api.graphql_url, REVOKE, variables, token=admin_token)).ok()[
            "revokeTask"
        ]
        assert answer["ok"] is True, answer
        assert answer["observed"]["removed_from_queue"] == {result.id: queue}
        row = await audit_row(http, api.graphql_url, admin_token, answer["auditId"])
        assert row["observed"]["removed_count"] == 1
        assert result.state == "REVOKED"  # no worker will see it: marked by celery-admin
    assert waiting() == 1
    worker = WorkerProcess(redis_server, f"after-{uuid.uuid4().hex[:6]}@tests", queues=queue)
    try:
        assert await _final_state(kept) == "SUCCESS"
        assert not _ran([worker], plain.id) and not _ran([worker], urgent.id)
    finally:
        stop_worker(api, worker)
        broker.close()
