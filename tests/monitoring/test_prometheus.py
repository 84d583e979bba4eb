"""GET /metrics: parses, has the seed's names, bounds label cardinality, honours METRICS_TOKEN."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from src.config import Settings
from src.monitoring.prometheus import OTHER, _Snapshot
from src.monitoring.sample import (
    MetricsSample,
    QueueSample,
    SamplerIdentity,
    TaskTotals,
    Throughput,
    WorkerSample,
)
from tests.support.servers import ApiServer, running_api

SEED_NAMES = {"celery_tasks", "celery_task_duration_seconds", "celery_active_workers"}
OUR_NAMES = {"celery_queue_length", "celery_queue_wait_seconds", "celery_worker_up"}


def _families(text: str) -> dict[str, list]:  # type: ignore[type-arg]
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def test_metrics_parse_and_carry_the_seed_names(
    api: ApiServer,
    workers,
    http: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    deadline = time.monotonic() + 90
    while True:
        response = await http.get(f"{api.url}/metrics")
        assert response.status_code == 200
        families = _families(response.text)
        active = families.get("celery_active_workers")
        if (active and active[0].value == 2) or time.monotonic() > deadline:
            break
    assert response.headers["content-type"].startswith("text/plain")
    assert set(families) >= SEED_NAMES | OUR_NAMES
    assert families["celery_active_workers"][0].value == 2
    up = {s.labels["worker"]: s.value for s in families["celery_worker_up"]}
    assert up["alpha@tests"] == 1 and up["beta@tests"] == 1
    assert "ai_analysis" in {s.labels["queue"] for s in families["celery_queue_length"]}


def test_label_cardinality_is_capped_and_the_rest_folded() -> None:
    now = datetime.now(UTC)
    sample = MetricsSample(
        taken_at=now,
        interval_seconds=5,
        sampler=SamplerIdentity(host="h", pid=1),
        workers_online=3,
        queues=[
            QueueSample(name=f"q{i}", length=i, oldest_age_seconds=float(i)) for i in range(1, 6)
        ],
        workers=[WorkerSample(hostname=f"w{i}", active=i) for i in range(3)],
        throughput=Throughput(window_seconds=300),
    )
    totals = TaskTotals(
        computed_at=now,
        by_queue_state={f"q{i}": {"SUCCESS": 10 * i, "FAILURE": 1} for i in range(1, 6)},
        buckets=[1.0, 10.0],
        histogram={f"q{i}": [i, 2 * i] for i in range(1, 6)},
        runtime_count={f"q{i}": 2 * i for i in range(1, 6)},
        runtime_sum={f"q{i}": 3.0 * i for i in range(1, 6)},
    )
    collector = _Snapshot(sample, totals, {"w9": time.time()}, max_queues=2, max_workers=2)
    families = {f.name: f.samples for f in collector.collect()}
    lengths = {s.labels["queue"]: s.value for s in families["celery_queue_length"]}
    assert lengths == {"q5": 5, "q4": 4, OTHER: 1 + 2 + 3}
    waits = {s.labels["queue"]: s.value for s in families["celery_queue_wait_seconds"]}
    assert waits[OTHER] == 3.0
    totals_other = {
        s.labels["status"]: s.value for s in families["celery_tasks"] if s.labels["queue"] == OTHER
    }
    assert totals_other == {"SUCCESS": 60, "FAILURE": 3}
    inf = [
        s.value
        for s in families["celery_task_duration_seconds"]
        if s.name.endswith("_bucket") and s.labels == {"queue": OTHER, "le": "+Inf"}
    ]
    assert inf == [2 + 4 + 6]
    up = {s.labels["worker"]: s.value for s in families["celery_worker_up"]}
    assert len(up) == 3 and up[OTHER] >= 0 and sum(up.values()) == 3  # w9 is known but down


async def test_metrics_token_is_required_when_set(settings: Settings) -> None:
    protected = settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    with running_api(protected) as server:
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{server.url}/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await client.get(f"{server.url}/metrics", headers=wrong)).status_code == 401
            right = {"Authorization": "Bearer scrape-me"}
            response = await client.get(f"{server.url}/metrics", headers=right)
            assert response.status_code == 200
            assert "celery_tasks" in _families(response.text)
