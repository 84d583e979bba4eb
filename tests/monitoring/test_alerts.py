"""Alert rules raise and resolve, with hysteresis, against real queues, workers and task rows."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from src.bus import Channel
from src.db.models import AlertRecord, TaskRecord
from src.embedded_redis import EmbeddedRedis
from src.errors import BadInput
from src.monitoring.alert_rules import ALERT_RULES, parse_rules
from src.monitoring.service import Monitoring
from src.runtime import Runtime
from tests.monitoring.conftest import next_matching
from tests.support.servers import WorkerProcess, client_app, make_settings, redis_binary


def rules(*specs: dict[str, object]):  # type: ignore[no-untyped-def]
    return parse_rules(list(specs))


def _with_length(sample, name: str, length: int):  # type: ignore[no-untyped-def]
    copy = sample.model_copy(deep=True)
    for queue in copy.queues:
        if queue.name == name:
            queue.length = length
    return copy


async def test_backlog_alert_waits_for_its_duration_and_resolves(
    monitoring: Monitoring,
    runtime: Runtime,
    celery_client,  # type: ignore[no-untyped-def]
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"
    for i in range(3):
        celery_client.send_task("src.tasks.demo.add", args=[i, i], queue=name)
    backlog = rules(
        {"kind": "queue_backlog", "id": f"bl-{name}", "queues": [name], "threshold": 2,
         "for_seconds": 10, "severity": "critical"}
    )  # fmt: skip
    sample = await monitoring.sampler.sample(1.0)
    t = time.time()
    ours = lambda m: m["data"]["rule_id"] == f"bl-{name}"  # noqa: E731
    async with runtime.bus.subscribe(Channel.ALERTS) as messages:
        assert await monitoring.alerts.evaluate(sample, backlog, now=t) == []  # pending
        assert await monitoring.alerts.evaluate(sample, backlog, now=t + 5) == []
        raised = await monitoring.alerts.evaluate(sample, backlog, now=t + 11)
        assert [(c.kind, c.alert.subject, c.alert.value) for c in raised] == [("raised", name, 3.0)]
        assert [a.key for a in await monitoring.active_alerts()] == [raised[0].alert.key]
        published = await next_matching(messages, ours)
        assert published["type"] == "alert.raised" and published["data"]["severity"] == "critical"

        assert await runtime.queues.backend.purge(name) == 3
        empty = await monitoring.sampler.sample(1.0)
        resolved = await monitoring.alerts.evaluate(empty, backlog, now=t + 12)
        assert [c.kind for c in resolved] == ["resolved"]
        assert (await next_matching(messages, ours))["type"] == "alert.resolved"
    assert await monitoring.active_alerts() == []
    async with runtime.db.session("test") as session:
        row = await session.scalar(
            select(AlertRecord).where(AlertRecord.alert_key == raised[0].alert.key)
        )
    assert row is not None and row.severity == "critical" and row.resolved_at is not None


async def test_a_value_hovering_at_the_threshold_does_not_flap(
    monitoring: Monitoring,
    celery_client,  # type: ignore[no-untyped-def]
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"
    celery_client.send_task("src.tasks.demo.add", args=[1, 1], queue=name)
    backlog = rules(
        {"kind": "queue_backlog", "id": f"bl-{name}", "queues": [name], "threshold": 2,
         "clear_below": 1}
    )  # fmt: skip
    base = await monitoring.sampler.sample(1.0)
    t = time.time()
    kinds = []
    for i, length in enumerate([3, 2, 3, 2, 3, 1, 2]):
        changes = await monitoring.alerts.evaluate(
            _with_length(base, name, length), backlog, now=t + i
        )
        kinds.extend(c.kind for c in changes)
    assert kinds == ["raised", "resolved"]  # 2 is inside the band: no resolve, no re-raise


async def test_worker_offline_alert_follows_a_real_worker(database_url: str) -> None:
    """On a Redis of its own: the worker it stops must not linger in the shared API's memory."""
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    runtime = Runtime.build(make_settings(redis, database_url))
    monitoring = runtime.new_monitoring(namespace=f"test:{uuid.uuid4().hex[:8]}")
    client = client_app(redis)
    hostname = f"gamma-{uuid.uuid4().hex[:6]}@tests"
    offline = rules(
        {"kind": "worker_offline", "id": "gamma-offline", "workers": [hostname], "for_seconds": 0}
    )
    try:
        worker = WorkerProcess(redis, hostname, concurrency=1)
        try:
            worker.wait_ready(client)
            sample = await monitoring.sampler.sample(1.0)
            assert [w.hostname for w in sample.workers] == [hostname]
            assert await monitoring.alerts.evaluate(sample, offline) == []
        finally:
            worker.stop()
        monitoring.inspector.invalidate()
        sample = await monitoring.sampler.sample(1.0)
        assert sample.workers == [] and sample.workers_online == 0
        raised = await monitoring.alerts.evaluate(sample, offline)
        assert [(c.kind, c.alert.subject) for c in raised] == [("raised", hostname)]

        again = WorkerProcess(redis, hostname, concurrency=1)
        try:
            again.wait_ready(client)
            monitoring.inspector.invalidate()
            resolved = await monitoring.alerts.evaluate(
                await monitoring.sampler.sample(1.0), offline
            )
            assert [(c.kind, c.alert.subject) for c in resolved] == [("resolved", hostname)]
        finally:
            again.stop()
    finally:
        await monitoring.close()
        await runtime.stop()
        redis.stop()


async def _finished(runtime: Runtime, queue: str, states: list[str]) -> None:
    now = datetime.now(UTC)
    async with runtime.db.session("test") as session:
        for state in states:
            at = now - timedelta(seconds=5)
            session.add(
                TaskRecord(
                    task_id=uuid.uuid4().hex, state=state, queue=queue, finished_at=at, seen_at=at
                )
            )


async def test_failure_rate_scoped_by_the_task_filter(
    monitoring: Monitoring, runtime: Runtime
) -> None:
    queue = f"fr_{uuid.uuid4().hex[:6]}"
    rate = rules(
        {"kind": "failure_rate", "id": f"fr-{queue}", "threshold": 0.5, "min_tasks": 4,
         "window_seconds": 60, "scope": {"queues": [queue]}}
    )  # fmt: skip
    sample = await monitoring.sampler.sample(1.0)
    await _finished(runtime, queue, ["FAILURE", "FAILURE", "FAILURE"])
    assert await monitoring.alerts.evaluate(sample, rate) == []  # 3 < min_tasks
    await _finished(runtime, queue, ["SUCCESS"])
    raised = await monitoring.alerts.evaluate(sample, rate)
    assert [(c.kind, c.alert.value) for c in raised] == [("raised", 0.75)]
    await _finished(runtime, queue, ["SUCCESS"] * 6)  # 3/10 = 30% <= 40% (clear level)
    assert [c.kind for c in await monitoring.alerts.evaluate(sample, rate)] == ["resolved"]


async def test_task_stuck_in_started(monitoring: Monitoring, runtime: Runtime) -> None:
    queue = f"stuck_{uuid.uuid4().hex[:6]}"
    task_id = uuid.uuid4().hex
    started = datetime.now(UTC) - timedelta(minutes=10)
    async with runtime.db.session("test") as session:
        session.add(
            TaskRecord(
                task_id=task_id, state="STARTED", queue=queue, started_at=started, seen_at=started
            )
        )
    stuck = rules(
        {"kind": "task_stuck", "id": f"st-{queue}", "seconds": 60, "scope": {"queues": [queue]}}
    )
    sample = await monitoring.sampler.sample(1.0)
    raised = await monitoring.alerts.evaluate(sample, stuck)
    assert [(c.kind, c.alert.value) for c in raised] == [("raised", 1.0)]
    assert raised[0].alert.details["task_ids"] == [task_id]
    async with runtime.db.session("test") as session:
        await session.execute(
            update(TaskRecord).where(TaskRecord.task_id == task_id).values(state="SUCCESS")
        )
    assert [c.kind for c in await monitoring.alerts.evaluate(sample, stuck)] == ["resolved"]


def test_worker_offline_waits_thirty_seconds_by_default() -> None:
    (rule,) = rules({"kind": "worker_offline", "id": "w"})
    assert rule.for_seconds == 30 and rule.workers == []


async def test_removing_a_rule_resolves_its_alerts(
    monitoring: Monitoring,
    celery_client,  # type: ignore[no-untyped-def]
) -> None:
    name = f"idle_{uuid.uuid4().hex[:6]}"
    celery_client.send_task("src.tasks.demo.add", args=[1, 1], queue=name)
    backlog = rules({"kind": "queue_backlog", "id": f"bl-{name}", "queues": [name], "threshold": 0})
    sample = await monitoring.sampler.sample(1.0)
    assert [c.kind for c in await monitoring.alerts.evaluate(sample, backlog)] == ["raised"]
    resolved = await monitoring.alerts.evaluate(sample, [])
    assert [c.kind for c in resolved] == ["resolved"]
    assert resolved[0].alert.details["resolved_because"] == "rule removed"


@pytest.mark.parametrize(
    "value",
    [
        [{"kind": "queue_backlog", "id": "a"}],  # no threshold
        [{"kind": "nonsense", "id": "a"}],
        [
            {"kind": "task_stuck", "id": "a", "seconds": 5},
            {"kind": "task_stuck", "id": "a", "seconds": 9},
        ],
        [{"kind": "failure_rate", "id": "a", "threshold": 2}],
        [{"kind": "failure_rate", "id": "a", "threshold": 0.5, "scope": {"states": ["FAILURE"]}}],
    ],
)
async def test_invalid_rules_are_refused(runtime: Runtime, value: object) -> None:
    with pytest.raises(BadInput):
        await runtime.config.set(ALERT_RULES.name, value, actor="test")


async def test_worker_offline_without_a_list_watches_every_worker_seen(
    monitoring: Monitoring,
) -> None:
    from src.monitoring.sample import MetricsSample, SamplerIdentity, Throughput, WorkerSample

    def sample(*hostnames: str) -> MetricsSample:
        return MetricsSample(
            taken_at=datetime.now(UTC),
            interval_seconds=5,
            sampler=SamplerIdentity(host="t", pid=1),
            workers=[WorkerSample(hostname=h) for h in hostnames],
            throughput=Throughput(window_seconds=300),
        )

    offline = rules(
        {"kind": "worker_offline", "id": "any-offline", "for_seconds": 0,
         "forget_after_seconds": 3600}
    )  # fmt: skip
    t = time.time()
    assert await monitoring.alerts.evaluate(sample("x@h", "y@h"), offline, now=t) == []
    raised = await monitoring.alerts.evaluate(sample("y@h"), offline, now=t + 5)
    assert [(c.kind, c.alert.subject) for c in raised] == [("raised", "x@h")]
    # An hour of silence later x is no longer watched: its alert resolves.
    later = await monitoring.alerts.evaluate(sample("y@h"), offline, now=t + 3700)
    assert [(c.kind, c.alert.subject) for c in later] == [("resolved", "x@h")]


async def test_collector_dropping_raises_while_it_drops_and_resolves(
    monitoring: Monitoring,
) -> None:
    """The default collector_dropping rule (issue 9): raised from the sample's collector part
    while the collector reports dropping, with the counts by reason; resolved once it stops."""
    from src.monitoring.alert_rules import DEFAULT_COLLECTOR_DROPPING, CollectorDroppingRule
    from src.monitoring.sample import CollectorSample

    rule = CollectorDroppingRule(id=f"cd-{uuid.uuid4().hex[:6]}", clear_for_seconds=0)
    assert DEFAULT_COLLECTOR_DROPPING.kind == "collector_dropping"
    sample = await monitoring.sampler.sample(1.0)
    dropping = sample.model_copy(deep=True)
    dropping.collector = CollectorSample(dropped={"intake": 12, "overflow": 4}, dropping=True)
    t = time.time()
    raised = await monitoring.alerts.evaluate(dropping, [rule], now=t)
    assert [(c.kind, c.alert.value) for c in raised] == [("raised", 16.0)]
    assert "intake 12" in raised[0].alert.message
    calm = dropping.model_copy(deep=True)
    assert calm.collector is not None
    calm.collector.dropping = False
    resolved = await monitoring.alerts.evaluate(calm, [rule], now=t + 1)
    assert [c.kind for c in resolved] == ["resolved"]
