"""Task mutations on real workers: revoke (and terminate), bulk revoke by selection, retry."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import psutil
import pytest
from celery import Celery

from src.auth.roles import Role
from src.config import Settings
from src.db.engine import create_engine
from src.db.models import TaskRecord
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from tests.control.conftest import CTL_QUEUE, wait_for
from tests.support.audit import audit_row
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, WorkerProcess

REVOKE = """
mutation($id: String!, $terminate: Boolean!, $signal: String!) {
  revokeTask(id: $id, terminate: $terminate, signal: $signal) {
    ok auditId errors { field message code } replies { hostname ok message } stateBefore observed
  }
}
"""
REVOKE_TASKS = """
mutation($f: TaskFilterInput, $t: String) {
  revokeTasks(filter: $f, selectionToken: $t, sampleSize: 2) {
    ok auditId errors { field message code } taskIds
    selection { token count expiresAt sample { id name state } }
  }
}
"""
RETRY = """
mutation($id: String!) { retryTask(id: $id) { ok auditId errors { field message code } taskIds } }
"""
RETRY_TASKS = """
mutation($f: TaskFilterInput, $t: String) {
  retryTasks(filter: $f, selectionToken: $t) {
    ok errors { field message code } taskIds selection { token count }
  }
}
"""


def _active_on(app: Celery, hostname: str, task_id: str) -> dict | None:  # type: ignore[type-arg]
    active = app.control.inspect(destination=[hostname], timeout=1).active() or {}
    return next((t for t in active.get(hostname, []) if t["id"] == task_id), None)


async def _insert_tasks(settings: Settings, *rows: TaskRecord) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with Database(engine).session("test") as session:
            session.add_all(rows)
    finally:
        await engine.dispose()


async def test_terminate_kills_the_task_process(
    api: ApiServer,
    ctl_worker: WorkerProcess,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    result = celery_client.send_task("src.tasks.demo.analyze_slow", args=[60], queue=CTL_QUEUE)
    task = await asyncio.to_thread(
        wait_for, lambda: _active_on(celery_client, ctl_worker.hostname, result.id)
    )
    pid = task["worker_pid"]
    assert psutil.pid_exists(pid)
    variables = {"id": result.id, "terminate": True, "signal": "SIGKILL"}
    payload = (await gql(http, api.graphql_url, REVOKE, variables, token=admin_token)).ok()[
        "revokeTask"
    ]
    assert payload["ok"] is True, payload
    assert ctl_worker.hostname in {r["hostname"] for r in payload["replies"] if r["ok"]}
    assert payload["stateBefore"]["worker_pid"] == pid
    await asyncio.to_thread(wait_for, lambda: not psutil.pid_exists(pid))
    assert await asyncio.to_thread(wait_for, lambda: result.state == "REVOKED")
    row = await audit_row(http, api.graphql_url, admin_token, payload["auditId"])
    assert row["outcome"] == "SUCCESS" and row["target"] == result.id
    assert row["observed"]["left_active"] is True


@pytest.mark.parametrize(
    ("task_id", "signal", "code", "field"),
    [
        ("no-such-task-id", "SIGTERM", "NOT_FOUND", "id"),
        (None, "SIGNOPE", "BAD_INPUT", "signal"),
        (None, "kill -9", "BAD_INPUT", "signal"),
    ],
)
async def test_revoke_bad_input_changes_nothing(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
    task_id: str | None,
    signal: str,
    code: str,
    field: str,
) -> None:
    real_id = task_id or str(uuid.uuid4())
    variables = {"id": real_id, "terminate": True, "signal": signal}
    payload = (await gql(http, api.graphql_url, REVOKE, variables, token=admin_token)).ok()[
        "revokeTask"
    ]
    assert payload["ok"] is False and payload["replies"] == []
    assert payload["errors"][0]["code"] == code and payload["errors"][0]["field"] == field
    revoked = celery_client.control.inspect(timeout=1).revoked() or {}
    assert all(real_id not in ids for ids in revoked.values())
    row = await audit_row(http, api.graphql_url, admin_token, payload["auditId"])
    assert row["outcome"] == "FAILURE" and row["errorCode"] == code


async def test_revoke_tasks_runs_exactly_the_previewed_selection(
    api: ApiServer,
    settings: Settings,
    workers: list[WorkerProcess],
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    name = f"bulk.{uuid.uuid4().hex[:6]}"
    ids = [str(uuid.uuid4()) for _ in range(3)]
    now = datetime.now(UTC)
    await _insert_tasks(
        settings, *(TaskRecord(task_id=i, name=name, state="PENDING", seen_at=now) for i in ids)
    )
    preview = (
        await gql(http, api.graphql_url, REVOKE_TASKS, {"f": {"names": [name]}}, token=admin_token)
    ).ok()["revokeTasks"]
    assert preview["ok"] is True and preview["taskIds"] == []
    selection = preview["selection"]
    assert selection["count"] == 3 and len(selection["sample"]) == 2
    # a task matching the filter after the preview is not part of the selection
    late = str(uuid.uuid4())
    await _insert_tasks(settings, TaskRecord(task_id=late, name=name, state="PENDING", seen_at=now))
    other_admin = mint(settings, Role.ADMIN, subject="another-admin")
    stolen = (
        await gql(http, api.graphql_url, REVOKE_TASKS, {"t": selection["token"]}, token=other_admin)
    ).ok()["revokeTasks"]
    assert stolen["ok"] is False and "someone else" in stolen["errors"][0]["message"]

    done = (
        await gql(http, api.graphql_url, REVOKE_TASKS, {"t": selection["token"]}, token=admin_token)
    ).ok()["revokeTasks"]
    assert done["ok"] is True, done
    assert sorted(done["taskIds"]) == sorted(ids)
    revoked = celery_client.control.inspect(destination=["alpha@tests"], timeout=1).revoked()
    assert set(ids) <= set(revoked["alpha@tests"]) and late not in revoked["alpha@tests"]

    reused = (
        await gql(http, api.graphql_url, REVOKE_TASKS, {"t": selection["token"]}, token=admin_token)
    ).ok()["revokeTasks"]
    assert reused["ok"] is False and reused["errors"][0]["code"] == "BAD_INPUT"
    assert reused["errors"][0]["field"] == "selectionToken"
    both = (
        await gql(
            http,
            api.graphql_url,
            REVOKE_TASKS,
            {"f": {"names": [name]}, "t": "x"},
            token=admin_token,
        )
    ).ok()["revokeTasks"]
    assert both["errors"][0]["code"] == "BAD_INPUT"
    empty = (await gql(http, api.graphql_url, REVOKE_TASKS, {"f": {}}, token=admin_token)).ok()
    assert empty["revokeTasks"]["errors"][0]["field"] == "filter"


STATE = "query($id: String!) { task(id: $id) { state } }"


async def test_retry_resends_the_exact_original_call(
    api: ApiServer,
    workers: list[WorkerProcess],
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    original = celery_client.send_task("src.tasks.demo.add", args=[20, 22], queue="ai_analysis")
    assert await asyncio.to_thread(original.get, timeout=60) == 42
    # The result is in the backend before the collector has stored the task's end: retry reads
    # the stored history, so wait for it there.
    deadline = time.monotonic() + 30
    while True:
        found = (
            await gql(http, api.graphql_url, STATE, {"id": original.id}, token=admin_token)
        ).ok()["task"]
        if found and found["state"] == "SUCCESS":
            break
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)
    payload = (
        await gql(http, api.graphql_url, RETRY, {"id": original.id}, token=admin_token)
    ).ok()["retryTask"]
    assert payload["ok"] is True, payload
    (new_id,) = payload["taskIds"]
    assert new_id != original.id
    again = celery_client.AsyncResult(new_id)
    assert await asyncio.to_thread(again.get, timeout=60) == 42
    assert again.args == [20, 22] and again.name == "src.tasks.demo.add"


async def test_retry_refuses_when_the_arguments_are_not_known(
    api: ApiServer, settings: Settings, http: httpx.AsyncClient, admin_token: str
) -> None:
    task_id = str(uuid.uuid4())
    await _insert_tasks(
        settings,
        TaskRecord(
            task_id=task_id,
            name="src.tasks.demo.add",
            state="FAILURE",
            args="('a very long argument...",  # a truncated repr: never re-sent
            seen_at=datetime.now(UTC),
        ),
    )
    payload = (await gql(http, api.graphql_url, RETRY, {"id": task_id}, token=admin_token)).ok()[
        "retryTask"
    ]
    assert payload["ok"] is False and payload["taskIds"] == []
    assert payload["errors"][0]["code"] == "UNSUPPORTED"
    assert "exact arguments" in payload["errors"][0]["message"]
    missing = (await gql(http, api.graphql_url, RETRY, {"id": "nope"}, token=admin_token)).ok()
    assert missing["retryTask"]["errors"][0]["code"] == "NOT_FOUND"


async def test_retry_tasks_by_selection_uses_stored_args(
    api: ApiServer,
    settings: Settings,
    workers: list[WorkerProcess],
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    task_id = str(uuid.uuid4())
    await _insert_tasks(
        settings,
        TaskRecord(
            task_id=task_id,
            name="src.tasks.demo.add",
            state="FAILURE",
            queue="ai_analysis",
            args_json=[3],
            kwargs_json={"y": 4},
            seen_at=datetime.now(UTC),
        ),
    )
    preview = (
        await gql(http, api.graphql_url, RETRY_TASKS, {"f": {"ids": [task_id]}}, token=admin_token)
    ).ok()["retryTasks"]
    assert preview["selection"]["count"] == 1
    token = preview["selection"]["token"]
    done = (await gql(http, api.graphql_url, RETRY_TASKS, {"t": token}, token=admin_token)).ok()[
        "retryTasks"
    ]
    assert done["ok"] is True, done
    (new_id,) = done["taskIds"]
    assert await asyncio.to_thread(celery_client.AsyncResult(new_id).get, timeout=60) == 7
    wrong = (await gql(http, api.graphql_url, REVOKE_TASKS, {"t": token}, token=admin_token)).ok()[
        "revokeTasks"
    ]
    assert wrong["errors"][0]["code"] == "BAD_INPUT"


async def test_an_expired_selection_token_is_refused(
    api: ApiServer,
    settings: Settings,
    redis_server: EmbeddedRedis,
    http: httpx.AsyncClient,
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis import Redis

    from src.control import selection

    monkeypatch.setattr(selection, "TTL_SECONDS", 1)
    task_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await _insert_tasks(settings, TaskRecord(task_id=task_id, state="PENDING", seen_at=now))
    preview = (
        await gql(http, api.graphql_url, REVOKE_TASKS, {"f": {"ids": [task_id]}}, token=admin_token)
    ).ok()["revokeTasks"]
    token = preview["selection"]["token"]
    broker = Redis.from_url(f"{redis_server.url}/0")
    await asyncio.to_thread(
        wait_for, lambda: not broker.exists(f"{selection.PREFIX}revoke:{token}"), 5
    )
    expired = (
        await gql(http, api.graphql_url, REVOKE_TASKS, {"t": token}, token=admin_token)
    ).ok()["revokeTasks"]
    assert expired["ok"] is False and expired["errors"][0]["code"] == "BAD_INPUT"
    assert expired["taskIds"] == []
