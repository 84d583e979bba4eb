"""`celery-admin demo` as a user runs it: in a shell where the cluster settings the README tells
them to export are still set, twice in a row, stopped with Ctrl-C (SIGINT) and with SIGTERM.

It must come up healthy on its own embedded Redis and database whatever is exported, start each run
with fresh state (nothing left STARTED by the previous run shows as running), stop within the
promise with exit 0, and leave no temporary directory behind.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.embedded_redis import free_port
from tests.process.support import Command, command_env

pytestmark = pytest.mark.timeout(240)

# What a user exported for their real cluster (all unreachable from here), passwords included.
CLUSTER = {
    "CELERY_BROKER_URL": "redis://:hunter2@127.0.0.1:1/0",
    "CELERY_RESULT_BACKEND": "redis://:hunter2@127.0.0.1:1/1",
    "CELERY_APP": "proj.celery:app",
    "DATABASE_URL": "postgresql://celery_admin:hunter2@127.0.0.1:1/celery_admin",
    "PUBSUB_URL": "redis://127.0.0.1:1/0",
    "REDIS_HOST": "redis.invalid",
    "REDIS_PORT": "1",
}
RUNNING = "{ tasks(filter: {states: [RECEIVED, STARTED]}, first: 200) { edges { node { id } } } }"
PERIODIC = "{ periodicTasks { name source health lastRunAt recentRuns { taskId state } } }"


def _gql(port: int, token: str, query: str) -> dict[str, Any]:
    response = httpx.post(
        f"http://127.0.0.1:{port}/celery-admin/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    assert not body.get("errors"), body
    return dict(body["data"])


def _until(check: Any, what: str, command: Command, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert command.process.poll() is None, f"demo exited:\n{command.output[-3000:]}"
        try:
            found = check()
        except (httpx.HTTPError, AssertionError):
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what} never happened:\n{command.output[-3000:]}")


def _start(env: dict[str, str], tmp_path: Path) -> tuple[Command, int, str]:
    port = free_port()
    demo = Command("demo", "--port", str(port), "--tasks-per-second", "10", env=env,
                   log_dir=tmp_path)  # fmt: skip
    token = demo.wait_output(r'"Bearer ([^"]+)"', timeout=120).group(1)

    def healthy() -> bool:
        response = httpx.get(f"http://127.0.0.1:{port}/celery-admin/system/health", timeout=10)
        return response.status_code == 200

    def both_workers() -> bool:
        names = {w["hostname"] for w in _gql(port, token, "{ workers { hostname } }")["workers"]}
        return {n.split("@")[0] for n in names} >= {"ai_worker", "maintenance_worker"}

    _until(healthy, "a healthy demo", demo)
    _until(both_workers, "both demo workers online", demo)
    return demo, port, token


def test_demo_is_self_contained_fresh_each_run_and_stops_cleanly(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = command_env(TMPDIR=str(temp), **CLUSTER)

    first, port, token = _start(env, tmp_path)
    try:

        def running_ids() -> set[str]:
            edges = _gql(port, token, RUNNING)["tasks"]["edges"]
            return {e["node"]["id"] for e in edges}

        left_running = _until(running_ids, "tasks running in the first demo", first)

        def periodic() -> dict[str, Any] | None:
            found = {t["name"]: t for t in _gql(port, token, PERIODIC)["periodicTasks"]}
            entry = found.get("add-every-10s")
            return found if entry and entry["recentRuns"] else None

        # The demo's own `celery beat` runs the demo app's beat_schedule.
        entries = _until(periodic, "beat running the 10 s entry", first)
        assert set(entries) == {"add-every-10s", "cleanup-storage-every-minute"}
        assert entries["add-every-10s"]["source"] == "STATIC"
        assert entries["add-every-10s"]["lastRunAt"] is not None
        assert first.stop(signal.SIGINT) == 0, first.output[-3000:]
    finally:
        first.kill()
    assert "hunter2" not in first.output
    assert list(temp.iterdir()) == []

    second, port, token = _start(env, tmp_path)
    try:
        edges = _gql(port, token, RUNNING)["tasks"]["edges"]
        assert not left_running & {e["node"]["id"] for e in edges}
        for task_id in left_running:
            assert _gql(port, token, f'{{ task(id: "{task_id}") {{ id }} }}')["task"] is None
        assert second.stop(signal.SIGTERM) == 0, second.output[-3000:]
    finally:
        second.kill()
    assert list(temp.iterdir()) == []
