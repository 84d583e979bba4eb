"""The monitoring queries over HTTP against the running API (and its own leader sampler)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from src.embedded_redis import EmbeddedRedis
from src.monitoring.sample import MetricsSample, SamplerIdentity, Throughput
from src.monitoring.snapshots import write_snapshot
from src.runtime import Runtime
from tests.conftest import WORKER_NAMES
from tests.support.graphql import gql
from tests.support.servers import ApiServer, make_settings, redis_binary, running_api


async def _poll(http: httpx.AsyncClient, url: str, query: str, token: str, ready: Any) -> Any:
    deadline = time.monotonic() + 60
    while True:
        data = (await gql(http, url, query, token=token)).ok()
        if ready(data) or time.monotonic() > deadline:
            return data


async def test_realtime_metrics_serves_the_leaders_latest_sample(
    api: ApiServer,
    workers,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
) -> None:
    query = """{ realtimeMetrics { takenAt workersOnline sampler { pid } queues { name length }
      workers { hostname } throughput { windowSeconds runtime { count } } host { cpuPercent } } }"""
    data = await _poll(
        http,
        api.graphql_url,
        query,
        viewer_token,
        lambda d: d["realtimeMetrics"] and d["realtimeMetrics"]["workersOnline"] == 2,
    )
    sample = data["realtimeMetrics"]
    assert sample is not None and sample["workersOnline"] == 2
    assert {w["hostname"] for w in sample["workers"]} == set(WORKER_NAMES)
    assert sample["sampler"]["pid"] == os.getpid()  # the API runs in this process's thread
    assert "ai_analysis" in {q["name"] for q in sample["queues"]}
    assert sample["throughput"]["windowSeconds"] == 300.0


async def test_system_metrics_describe_the_api_process(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    query = """{ systemMetrics { host { cpuPercent memoryPercent diskPercent }
      process { pid rssBytes threads } } }"""
    data = (await gql(http, api.graphql_url, query, token=viewer_token)).ok()["systemMetrics"]
    assert data["process"]["pid"] == os.getpid()
    assert data["process"]["rssBytes"] > 10_000_000 and data["process"]["threads"] >= 2
    assert 0 < data["host"]["memoryPercent"] <= 100 and data["host"]["diskPercent"] is not None


def _sample(at: datetime, workers: int, queued: int) -> MetricsSample:
    return MetricsSample(
        taken_at=at,
        interval_seconds=5,
        sampler=SamplerIdentity(host="test", pid=1),
        workers_online=workers,
        queued_total=queued,
        throughput=Throughput(window_seconds=300, succeeded_per_minute=workers * 10.0),
    )


HISTORY = """
query($from: DateTime!, $to: DateTime!, $step: Int!) {
  metricsHistory(from: $from, to: $to, stepSeconds: $step) {
    at samples workersOnline queuedTotalMax succeededPerMinute
  }
}
"""


async def test_metrics_history_buckets_snapshots(
    api: ApiServer, runtime: Runtime, http: httpx.AsyncClient, viewer_token: str
) -> None:
    t0 = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    for offset, workers, queued in ((5, 2, 10), (20, 4, 30), (70, 3, 7)):
        await write_snapshot(runtime.db, _sample(t0 + timedelta(seconds=offset), workers, queued))
    variables = {
        "from": t0.isoformat(),
        "to": (t0 + timedelta(seconds=180)).isoformat(),
        "step": 60,
    }
    points = (await gql(http, api.graphql_url, HISTORY, variables, token=viewer_token)).ok()[
        "metricsHistory"
    ]
    assert [p["samples"] for p in points] == [2, 1, 0]
    assert points[0]["workersOnline"] == 3.0 and points[0]["queuedTotalMax"] == 30
    assert points[0]["succeededPerMinute"] == 30.0
    assert points[1]["workersOnline"] == 3.0 and points[1]["queuedTotalMax"] == 7
    assert points[2]["workersOnline"] is None
    assert datetime.fromisoformat(points[1]["at"]) == t0 + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("start", "end", "step", "field"),
    [
        ("2026-01-01T01:00:00Z", "2026-01-01T00:00:00Z", 60, "to"),  # reversed
        ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 0, "step"),  # no step
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 1, "step"),  # 86,400 points
        ("2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z", 86400, "from"),  # years
    ],
)
async def test_metrics_history_rejects_bad_ranges(
    api: ApiServer,
    http: httpx.AsyncClient,
    viewer_token: str,
    start: str,
    end: str,
    step: int,
    field: str,
) -> None:
    response = await gql(
        http, api.graphql_url, HISTORY, {"from": start, "to": end, "step": step}, token=viewer_token
    )
    assert response.codes == ["BAD_INPUT"]
    assert response.errors[0]["extensions"].get("field") == field


async def test_dashboard_has_the_overview_in_one_round_trip(
    api: ApiServer,
    workers,
    http: httpx.AsyncClient,
    viewer_token: str,  # type: ignore[no-untyped-def]
) -> None:
    query = """{ dashboard { health components { name ok } workers { online activeTasks workers { hostname } }
      queues { name length } metrics { workersOnline } metricsFresh activeAlerts { key }
      recentFailures recentFailuresWindowSeconds } }"""
    data = (await gql(http, api.graphql_url, query, token=viewer_token)).ok()["dashboard"]
    assert data["health"] == "HEALTHY"
    assert {c["name"] for c in data["components"]} == {"broker", "result_backend", "database"}
    assert data["workers"]["online"] == 2
    assert "ai_analysis" in {q["name"] for q in data["queues"]}
    assert isinstance(data["recentFailures"], int) and data["recentFailuresWindowSeconds"] == 3600
    assert isinstance(data["activeAlerts"], list)


async def test_monitoring_status(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    query = """{ monitoringStatus { enabled sampling leader { pid } lastSampleAt intervalSeconds
      snapshotIntervalSeconds retentionDays bus { enabled connected } } }"""
    data = await _poll(
        http, api.graphql_url, query, viewer_token, lambda d: d["monitoringStatus"]["sampling"]
    )
    status = data["monitoringStatus"]
    assert status["enabled"] is True and status["sampling"] is True
    assert status["leader"]["pid"] == os.getpid() and status["lastSampleAt"]
    assert status["snapshotIntervalSeconds"] == 60 and status["retentionDays"] == 7
    assert status["bus"]["enabled"] is True


async def test_alerts_first_is_bounded(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    response = await gql(http, api.graphql_url, "{ alerts(first: 0) { key } }", token=viewer_token)
    assert response.codes == ["BAD_INPUT"]


async def test_with_redis_down_metrics_say_so_and_the_dashboard_still_answers(
    database_url: str, http: httpx.AsyncClient, viewer_token: str
) -> None:
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    try:
        with running_api(make_settings(redis, database_url)) as server:
            redis.stop()
            metrics = await gql(
                http, server.graphql_url, "{ realtimeMetrics { takenAt } }", token=viewer_token
            )
            assert metrics.codes == ["BROKER_UNAVAILABLE"]
            board = await gql(
                http, server.graphql_url, "{ dashboard { health metrics { takenAt } } }",
                token=viewer_token,
            )  # fmt: skip
            assert board.ok()["dashboard"] == {"health": "UNHEALTHY", "metrics": None}
    finally:
        redis.stop()
