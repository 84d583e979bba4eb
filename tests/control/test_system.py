"""super_admin mutations (shutdown, restart, configuration) and the monitoring switch.

Shutdowns use workers (and, for the whole system, a Redis and an API) of their own, never the
session workers.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

import httpx
from celery import Celery

from src.config import Settings
from src.embedded_redis import EmbeddedRedis
from tests.control.conftest import wait_for
from tests.support.audit import audit_row
from tests.support.brokers import session_broker
from tests.support.graphql import gql
from tests.support.servers import (
    ApiServer,
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    running_api,
)

SHUTDOWN_WORKER = """
mutation($h: String!) {
  shutdownWorker(hostname: $h) { ok auditId errors { code message } stateBefore observed }
}
"""
SHUTDOWN_SYSTEM = """
mutation { shutdownSystem(drain: true, drainTimeout: 30) {
  ok auditId errors { code message } steps { name ok detail }
} }
"""
CONFIG = """
mutation($k: String!, $v: JSON!, $e: Int) {
  updateSystemConfig(key: $k, value: $v, expectedVersion: $e) {
    ok auditId errors { field code message } entry { key value version updatedBy }
  }
}
"""


async def test_shutdown_worker_stops_its_process(
    api: ApiServer,
    redis_server: EmbeddedRedis,
    celery_client: Celery,
    http: httpx.AsyncClient,
    super_admin_token: str,
) -> None:
    worker = WorkerProcess(redis_server, "doomed@tests", queues="doomed_q")
    try:
        await asyncio.to_thread(worker.wait_ready, celery_client)
        payload = (
            await gql(
                http,
                api.graphql_url,
                SHUTDOWN_WORKER,
                {"h": "doomed@tests"},
                token=super_admin_token,
            )
        ).ok()["shutdownWorker"]
        assert payload["ok"] is True, payload
        assert await asyncio.to_thread(worker.process.wait, 60) == 0
        assert payload["stateBefore"]["pid"] == worker.process.pid
        assert payload["observed"] == {"stopped": True}
        again = (
            await gql(
                http,
                api.graphql_url,
                SHUTDOWN_WORKER,
                {"h": "doomed@tests"},
                token=super_admin_token,
            )
        ).ok()["shutdownWorker"]
        assert again["errors"][0]["code"] == "WORKER_UNAVAILABLE"
    finally:
        worker.stop()


async def test_shutdown_system_drains_then_stops_every_worker(
    database_url: str, http: httpx.AsyncClient, super_admin_token: str
) -> None:
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    worker: WorkerProcess | None = None
    cluster = ExitStack()
    try:
        cluster.enter_context(session_broker(redis))  # amqp run: a vhost of its own as broker
        app = client_app(redis)
        settings: Settings = make_settings(redis, database_url)
        worker = WorkerProcess(redis, "drained@tests", queues="ai_analysis")
        await asyncio.to_thread(worker.wait_ready, app)
        running = app.send_task("src.tasks.demo.analyze_slow", args=[2], queue="ai_analysis")

        def active() -> bool:
            reply = app.control.inspect(destination=["drained@tests"], timeout=1).active() or {}
            return any(t["id"] == running.id for t in reply.get("drained@tests", []))

        await asyncio.to_thread(wait_for, active)
        with running_api(settings) as own_api:
            payload = (
                await gql(http, own_api.graphql_url, SHUTDOWN_SYSTEM, token=super_admin_token)
            ).ok()["shutdownSystem"]
        assert payload["ok"] is True, payload
        steps = {s["name"]: s for s in payload["steps"]}
        assert list(steps) == ["stop consuming", "wait for running tasks", "shutdown"]
        assert steps["stop consuming"]["detail"] == {"ai_analysis": ["drained@tests"]}
        assert all(s["ok"] for s in payload["steps"])
        assert running.get(timeout=30) == "done"  # it was allowed to finish
        assert await asyncio.to_thread(worker.process.wait, 60) == 0
    finally:
        if worker is not None:
            worker.stop()
        cluster.close()
        redis.stop()


async def test_restart_system_needs_pool_restarts(
    api: ApiServer, workers: list[WorkerProcess], http: httpx.AsyncClient, super_admin_token: str
) -> None:
    query = "mutation { restartSystem { ok errors { code message } } }"
    payload = (await gql(http, api.graphql_url, query, token=super_admin_token)).ok()[
        "restartSystem"
    ]
    assert payload["ok"] is False and payload["errors"][0]["code"] == "UNSUPPORTED"
    assert "worker_pool_restarts" in payload["errors"][0]["message"]
    assert all(w.process.poll() is None for w in workers)


async def test_monitoring_switch_is_cluster_state(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str
) -> None:
    entry = "{ systemConfiguration { entries { key value version } } }"
    try:
        stopped = (
            await gql(
                http,
                api.graphql_url,
                "mutation { stopMonitoring { ok enabled } }",
                token=admin_token,
            )
        ).ok()["stopMonitoring"]
        assert stopped == {"ok": True, "enabled": False}
        api.runtime.config._cache = None
        listed = (await gql(http, api.graphql_url, entry, token=admin_token)).ok()
        values = {e["key"]: e["value"] for e in listed["systemConfiguration"]["entries"]}
        assert values["monitoring.enabled"] is False
    finally:
        started = (
            await gql(
                http,
                api.graphql_url,
                "mutation { startMonitoring { ok enabled } }",
                token=admin_token,
            )
        ).ok()["startMonitoring"]
        assert started == {"ok": True, "enabled": True}


async def test_update_system_config_is_validated_and_versioned(
    api: ApiServer, http: httpx.AsyncClient, super_admin_token: str
) -> None:
    current = await api_config_version(http, api, super_admin_token)
    ok = (
        await gql(
            http,
            api.graphql_url,
            CONFIG,
            {"k": "monitoring.enabled", "v": True, "e": current},
            token=super_admin_token,
        )
    ).ok()["updateSystemConfig"]
    assert ok["ok"] is True, ok
    assert ok["entry"] == {
        "key": "monitoring.enabled",
        "value": True,
        "version": current + 1,
        "updatedBy": "test-super_admin",
    }
    row = await audit_row(http, api.graphql_url, super_admin_token, ok["auditId"])
    assert row["stateBefore"]["version"] == current and row["stateAfter"]["version"] == current + 1

    for variables, code, field in (
        ({"k": "monitoring.enabled", "v": True, "e": current}, "CONFLICT", "expectedVersion"),
        ({"k": "monitoring.enabled", "v": "sometimes"}, "BAD_INPUT", "value"),
        ({"k": "no.such.key", "v": 1}, "BAD_INPUT", "key"),
    ):
        refused = (
            await gql(http, api.graphql_url, CONFIG, variables, token=super_admin_token)
        ).ok()["updateSystemConfig"]
        assert refused["ok"] is False and refused["entry"] is None
        assert (refused["errors"][0]["code"], refused["errors"][0]["field"]) == (code, field)
    assert await api_config_version(http, api, super_admin_token) == current + 1


async def api_config_version(http: httpx.AsyncClient, api: ApiServer, token: str) -> int:
    api.runtime.config._cache = None
    data = (
        await gql(
            http,
            api.graphql_url,
            "{ systemConfiguration { entries { key version } } }",
            token=token,
        )
    ).ok()
    return next(
        e["version"]
        for e in data["systemConfiguration"]["entries"]
        if e["key"] == "monitoring.enabled"
    )


async def test_system_configuration_masks_secrets(
    api: ApiServer,
    http: httpx.AsyncClient,
    admin_token: str,
    viewer_token: str,
    broker_kind: str,
) -> None:
    conf = api.runtime.app.conf
    original = conf.broker_transport_options
    conf.broker_transport_options = {**(original or {}), "sentinel_kwargs": {"password": "hunter2"}}
    try:
        query = "{ systemConfiguration { celery entries { key description } } }"
        data = (await gql(http, api.graphql_url, query, token=admin_token)).ok()[
            "systemConfiguration"
        ]
    finally:
        conf.broker_transport_options = original
    broker_url = data["celery"]["broker_url"]
    assert broker_url.startswith("amqp://" if broker_kind == "amqp" else "redis://")
    if broker_kind == "amqp":
        assert "guest:********@" in broker_url and ":guest@" not in broker_url
    assert "hunter2" not in str(data["celery"])
    assert data["celery"]["broker_transport_options"]["sentinel_kwargs"]["password"] == "********"
    assert any(e["key"] == "monitoring.enabled" for e in data["entries"])
    denied = await gql(http, api.graphql_url, query, token=viewer_token)
    assert denied.codes == ["FORBIDDEN"]
