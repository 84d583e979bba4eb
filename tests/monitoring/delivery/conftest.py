"""Alert delivery fixtures: a database of their own (the session API's delivery leader must not
pick up these rows, nor these tests its configuration), an own state namespace in the test Redis,
the real alert engine, and a deliverer that polls quickly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from src.bus import NullBus
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from src.monitoring.alert_rules import QueueBacklogRule, Severity
from src.monitoring.alerts import AlertChange, AlertEngine
from src.monitoring.delivery.deliverer import Deliverer
from src.monitoring.delivery.sinks import ALERT_SINKS
from src.monitoring.delivery.store import DeliveryFilter
from src.monitoring.sample import MetricsSample, QueueSample, SamplerIdentity, Throughput
from src.monitoring.state import RedisStateStore
from src.process.bounded import cancel_and_wait
from src.system.config import ConfigStore
from tests.conftest import DB_KIND
from tests.support.servers import temporary_database


@pytest.fixture(scope="module")
def delivery_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(DB_KIND, Path(tmp_path_factory.mktemp("delivery"))) as url:
        yield url


@dataclass
class Parts:
    db: Database
    config: ConfigStore
    state: RedisStateStore
    alerts: AlertEngine
    deliverer: Deliverer
    running: list[asyncio.Task[None]]

    def new_deliverer(self) -> Deliverer:
        """Another process's deliverer over the same database and shared state."""
        return Deliverer(
            db=self.db, config=self.config, state=self.state, alerts=self.alerts, poll_seconds=0.05
        )

    def run(self, deliverer: Deliverer | None = None) -> asyncio.Task[None]:
        task = asyncio.create_task((deliverer or self.deliverer).run())
        self.running.append(task)
        return task

    async def sinks(self, *sinks: dict[str, Any]) -> None:
        await self.config.set(ALERT_SINKS.name, list(sinks), actor="test")

    async def rows(self, **filters: Any) -> list[Any]:
        page = await self.deliverer.store.page(DeliveryFilter(**filters), first=200)
        return page.rows


@pytest.fixture
async def parts(delivery_database: str, redis_server: EmbeddedRedis) -> AsyncIterator[Parts]:
    db = Database.from_url(delivery_database)
    config = ConfigStore(db)
    state = RedisStateStore(
        f"{redis_server.url}/0", namespace=f"test:delivery:{uuid.uuid4().hex[:8]}"
    )
    alerts = AlertEngine(state, db, NullBus())
    deliverer = Deliverer(db=db, config=config, state=state, alerts=alerts, poll_seconds=0.05)
    built = Parts(db, config, state, alerts, deliverer, [])
    try:
        yield built
    finally:
        await cancel_and_wait(built.running, 5.0, "test deliverers")
        await config.set(ALERT_SINKS.name, [], actor="test")
        await state.close()
        await db.dispose()


def backlog_sample(queue: str, length: int, *more: str) -> MetricsSample:
    return MetricsSample(
        taken_at=datetime.now(UTC),
        interval_seconds=1.0,
        sampler=SamplerIdentity(host="tests", pid=1),
        queues=[QueueSample(name=q, length=length) for q in (queue, *more)],
        throughput=Throughput(window_seconds=60),
    )


def backlog_rule(queue: str, severity: Severity = Severity.CRITICAL) -> QueueBacklogRule:
    return QueueBacklogRule(id=f"backlog-{queue}", queues=[queue], threshold=10, severity=severity)


async def fire(parts: Parts, queue: str, length: int = 42) -> AlertChange:
    """Raise the backlog alert of `queue` through the real engine and leave it in the outbox, as
    the sampler does."""
    changes = await parts.alerts.evaluate(backlog_sample(queue, length), [backlog_rule(queue)])
    assert [c.kind for c in changes] == ["raised"]
    await parts.deliverer.outbox.push(changes)
    return changes[0]


async def fire_many(parts: Parts, queues: list[str]) -> list[AlertChange]:
    """Raise the backlog alerts of several queues at once (one evaluation, as one sample)."""
    changes = await parts.alerts.evaluate(
        backlog_sample(queues[0], 42, *queues[1:]), [backlog_rule(q) for q in queues]
    )
    assert [c.kind for c in changes] == ["raised"] * len(queues)
    await parts.deliverer.outbox.push(changes)
    return changes


async def resolve(parts: Parts, queue: str) -> AlertChange:
    changes = await parts.alerts.evaluate(backlog_sample(queue, 0), [backlog_rule(queue)])
    assert [c.kind for c in changes] == ["resolved"]
    await parts.deliverer.outbox.push(changes)
    return changes[0]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


__all__ = [
    "Parts",
    "backlog_rule",
    "backlog_sample",
    "fire",
    "fire_many",
    "resolve",
    "unique",
]
