"""Worker mutations on a real worker of our own: pool size, rate and time limits, consumers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from celery import Celery

from tests.control.conftest import stop_worker
from tests.support.audit import audit_row
from tests.support.graphql import gql
from tests.support.servers import ApiServer, WorkerProcess

PAYLOAD = (
    "ok auditId errors { field message code } replies { hostname ok message }"
    " stateBefore stateAfter observed"
)


def _pool_size(app: Celery, hostname: str) -> int:
    stats = app.control.inspect(destination=[hostname], timeout=1).stats() or {}
    return len(stats[hostname]["pool"]["processes"])


async def _mutate(
    http: httpx.AsyncClient, api: ApiServer, field: str, args: str, token: str
) -> dict[str, Any]:
    query = f"mutation {{ {field}({args}) {{ {PAYLOAD} }} }}"
    return (await gql(http, api.graphql_url, query, token=token)).ok()[field]


async def _dashboard_pool_size(
    http: httpx.AsyncClient, api: ApiServer, host: str, token: str
) -> int | None:
    query = "{ dashboard { workers { workers { hostname poolSize } } } }"
    data = (await gql(http, api.graphql_url, query, token=token)).ok()
    sizes = {w["hostname"]: w["poolSize"] for w in data["dashboard"]["workers"]["workers"]}
    return sizes.get(host)


async def test_pool_grow_and_shrink_change_the_process_count(
    api: ApiServer,
    ctl_worker: WorkerProcess,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    host = ctl_worker.hostname
    before = await asyncio.to_thread(_pool_size, celery_client, host)
    grown = await _mutate(http, api, "poolGrow", f'n: 2, workers: ["{host}"]', admin_token)
    assert grown["ok"] is True, grown
    assert await asyncio.to_thread(_pool_size, celery_client, host) == before + 2
    assert grown["stateBefore"]["pool_processes"][host] == before
    assert grown["stateAfter"]["pool_processes"][host] == before + 2
    # Every reader of the stats reply agrees on the live size (one parser): the dashboard's
    # pool size is the process count, not the concurrency the worker started with.
    assert await _dashboard_pool_size(http, api, host, admin_token) == before + 2
    shrunk = await _mutate(http, api, "poolShrink", f'n: 2, workers: ["{host}"]', admin_token)
    assert shrunk["ok"] is True, shrunk
    assert await asyncio.to_thread(_pool_size, celery_client, host) == before
    row = await audit_row(http, api.graphql_url, admin_token, shrunk["auditId"])
    assert row["action"] == "poolShrink" and row["stateAfter"]["pool_processes"][host] == before

    too_far = await _mutate(
        http, api, "poolShrink", f'n: {before}, workers: ["{host}"]', admin_token
    )
    negative = await _mutate(http, api, "poolGrow", f'n: -1, workers: ["{host}"]', admin_token)
    for refused in (too_far, negative):
        assert refused["ok"] is False and refused["errors"][0]["code"] == "BAD_INPUT"
    assert await asyncio.to_thread(_pool_size, celery_client, host) == before


async def test_rate_limit_is_visible_on_the_worker(
    api: ApiServer,
    ctl_worker: WorkerProcess,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    host = ctl_worker.hostname
    args = f'taskName: "src.tasks.demo.add", rate: "10/m", workers: ["{host}"]'
    payload = await _mutate(http, api, "setRateLimit", args, admin_token)
    assert payload["ok"] is True, payload
    registered = celery_client.control.inspect(destination=[host], timeout=1).registered(
        "rate_limit"
    )
    assert "src.tasks.demo.add [rate_limit=10/m]" in registered[host]
    assert payload["stateAfter"][host] == "src.tasks.demo.add [rate_limit=10/m]"
    cleared = await _mutate(http, api, "setRateLimit", args.replace('"10/m"', '"0"'), admin_token)
    assert cleared["ok"] is True


@pytest.mark.parametrize(
    ("field", "args", "code", "bad"),
    [
        ("setRateLimit", 'taskName: "src.tasks.demo.add", rate: "10/x"', "BAD_INPUT", "rate"),
        ("setRateLimit", 'taskName: "no.such.task", rate: "1/s"', "NOT_FOUND", "taskName"),
        ("setTimeLimit", 'taskName: "src.tasks.demo.add", soft: -1', "BAD_INPUT", "soft"),
        ("setTimeLimit", 'taskName: "src.tasks.demo.add", soft: 5, hard: 2', "BAD_INPUT", "soft"),
        ("addConsumer", 'queue: "bad queue!"', "BAD_INPUT", "queue"),
        ("cancelConsumer", 'queue: "never_consumed"', "NOT_FOUND", "queue"),
        ("autoscale", "max: 2, min: 5", "BAD_INPUT", "max"),
    ],
)
async def test_bad_input_is_refused(
    api: ApiServer,
    ctl_worker: WorkerProcess,
    http: httpx.AsyncClient,
    admin_token: str,
    field: str,
    args: str,
    code: str,
    bad: str,
) -> None:
    payload = await _mutate(
        http, api, field, f'{args}, workers: ["{ctl_worker.hostname}"]', admin_token
    )
    assert payload["ok"] is False and payload["replies"] == []
    assert (payload["errors"][0]["code"], payload["errors"][0]["field"]) == (code, bad)


async def test_time_limit_is_set(
    api: ApiServer,
    ctl_worker: WorkerProcess,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    host = ctl_worker.hostname
    args = f'taskName: "src.tasks.demo.add", soft: 30, hard: 60, workers: ["{host}"]'
    payload = await _mutate(http, api, "setTimeLimit", args, admin_token)
    assert payload["ok"] is True, payload
    registered = celery_client.control.inspect(destination=[host], timeout=1).registered(
        "time_limit", "soft_time_limit"
    )
    assert "src.tasks.demo.add [time_limit=60.0 soft_time_limit=30.0]" in registered[host]


async def test_unknown_and_silent_workers(
    api: ApiServer, workers: list[WorkerProcess], http: httpx.AsyncClient, admin_token: str
) -> None:
    payload = await _mutate(http, api, "poolGrow", 'workers: ["nobody@nowhere"]', admin_token)
    assert payload["errors"][0]["code"] == "NOT_FOUND"
    assert payload["errors"][0]["field"] == "workers"


async def test_add_and_cancel_consumer(
    api: ApiServer,
    ctl_worker: WorkerProcess,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,
) -> None:
    host = ctl_worker.hostname

    def queues() -> set[str]:
        reply = celery_client.control.inspect(destination=[host], timeout=1).active_queues()
        return {q["name"] for q in reply[host]}

    added = await _mutate(
        http, api, "addConsumer", f'queue: "extra_q", workers: ["{host}"]', admin_token
    )
    assert added["ok"] is True, added
    assert "extra_q" in await asyncio.to_thread(queues)
    assert "extra_q" in added["stateAfter"][host] and "extra_q" not in added["stateBefore"][host]
    cancelled = await _mutate(
        http, api, "cancelConsumer", f'queue: "extra_q", workers: ["{host}"]', admin_token
    )
    assert cancelled["ok"] is True, cancelled
    assert "extra_q" not in await asyncio.to_thread(queues)


async def test_autoscale_and_pool_restart_say_what_the_worker_lacks(
    api: ApiServer, ctl_worker: WorkerProcess, http: httpx.AsyncClient, admin_token: str
) -> None:
    host = ctl_worker.hostname
    scaled = await _mutate(
        http, api, "autoscale", f'max: 4, min: 1, workers: ["{host}"]', admin_token
    )
    assert scaled["ok"] is False
    assert scaled["errors"][0]["code"] == "UNSUPPORTED"
    assert "--autoscale" in scaled["errors"][0]["message"]
    restarted = await _mutate(http, api, "poolRestart", f'workers: ["{host}"]', admin_token)
    assert restarted["ok"] is False and restarted["errors"][0]["code"] == "UNSUPPORTED"
    assert "worker_pool_restarts" in restarted["errors"][0]["message"]


async def test_autoscale_on_a_worker_started_with_autoscale(
    api: ApiServer,
    redis_server,
    celery_client: Celery,
    http: httpx.AsyncClient,
    admin_token: str,  # type: ignore[no-untyped-def]
) -> None:
    worker = WorkerProcess(
        redis_server, "scaler@tests", queues="scaler_q", extra=("--autoscale=3,1",)
    )
    try:
        await asyncio.to_thread(worker.wait_ready, celery_client)
        payload = await _mutate(
            http, api, "autoscale", 'max: 5, min: 2, workers: ["scaler@tests"]', admin_token
        )
        assert payload["ok"] is True, payload
        assert payload["stateAfter"]["scaler@tests"]["max"] == 5
        assert payload["stateAfter"]["scaler@tests"]["min"] == 2
    finally:
        stop_worker(api, worker)


async def test_ping_workers_reports_each_reply_and_who_stayed_silent(
    api: ApiServer, ctl_worker: WorkerProcess, http: httpx.AsyncClient, admin_token: str
) -> None:
    host = ctl_worker.hostname
    pinged = await _mutate(http, api, "pingWorkers", f'workers: ["{host}"]', admin_token)
    assert pinged["ok"] is True, pinged
    assert pinged["replies"] == [{"hostname": host, "ok": True, "message": "pong"}]
    assert pinged["observed"] == {"answered": [host], "silent": []}
    row = await audit_row(http, api.graphql_url, admin_token, pinged["auditId"])
    assert (row["action"], row["outcome"], row["target"]) == ("pingWorkers", "SUCCESS", host)
    assert row["request"] == {"workers": [host]}
