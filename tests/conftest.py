"""Session-wide real parts: one Redis, two Celery workers, a migrated database, the API.

Tests that break things (stop Redis, shut workers down) start their own with the factories in
`tests.support.servers` instead of touching these.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from src.auth.roles import Role
from src.config import Settings
from src.embedded_redis import EmbeddedRedis
from tests.support.brokers import BrokerKind, broker_url_for, session_broker
from tests.support.brokers import broker_kind as test_broker_kind
from tests.support.graphql import mint
from tests.support.servers import (
    ApiServer,
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    running_api,
    temporary_database,
)

DB_KIND = os.environ.get("CELERY_ADMIN_TEST_DB", "postgresql")
WORKER_NAMES = ("alpha@tests", "beta@tests")
# The areas whose tests run on both brokers (CELERY_ADMIN_TEST_BROKER=amqp runs only these), and
# the fixtures through which a test reaches the session cluster's broker.
BROKER_AREAS = frozenset(
    {
        "workers",
        "queues",
        "tasks",
        "control",
        "audit",
        "realtime",
        "monitoring",
        "system",
        "collector",
    }
)
BROKER_FIXTURES = frozenset(
    {"api", "workers", "celery_client", "ctl_worker", "broker_url", "settings"}
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "redis_broker: about the Redis broker itself (its key layout, stopping it): the redis run only",
    )


def runs_on_both_brokers(item: pytest.Item) -> bool:
    """A test of the broker areas that reaches the session cluster (through its fixtures) and is
    not about the Redis broker itself."""
    parts = Path(str(item.path)).relative_to(Path(__file__).parent).parts
    if not parts or parts[0] not in BROKER_AREAS or item.get_closest_marker("redis_broker"):
        return False
    return bool(BROKER_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The amqp run keeps the tests that touch the broker; the redis run (default) keeps all, so
    what does not depend on the broker runs once."""
    if test_broker_kind() != "amqp":
        return
    kept = [item for item in items if runs_on_both_brokers(item)]
    deselected = [item for item in items if not runs_on_both_brokers(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """The session Redis: results, the bus, celery-admin's state and (redis run) the broker."""
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    try:
        with session_broker(server):
            yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def broker_url(redis_server: EmbeddedRedis) -> str:
    """The session cluster's broker: the session Redis, or a fresh RabbitMQ vhost (amqp run)."""
    return broker_url_for(redis_server)


@pytest.fixture(scope="session")
def broker_kind() -> BrokerKind:
    """'redis' or 'amqp' (CELERY_ADMIN_TEST_BROKER): what the session cluster's broker is."""
    return test_broker_kind()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database(DB_KIND, Path(tmp_path_factory.mktemp("db"))) as url:
        yield url


@pytest.fixture(scope="session")
def settings(redis_server: EmbeddedRedis, database_url: str) -> Settings:
    return make_settings(redis_server, database_url)


@pytest.fixture(scope="session")
def celery_client(redis_server: EmbeddedRedis):  # type: ignore[no-untyped-def]
    return client_app(redis_server)


@pytest.fixture(scope="session")
def workers(redis_server: EmbeddedRedis, celery_client) -> Iterator[list[WorkerProcess]]:  # type: ignore[no-untyped-def]
    started = [WorkerProcess(redis_server, name) for name in WORKER_NAMES]
    try:
        for worker in started:
            worker.wait_ready(celery_client)
        yield started
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[ApiServer]:
    with running_api(settings) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def viewer_token(settings: Settings) -> str:
    return mint(settings, Role.VIEWER)


@pytest.fixture(scope="session")
def admin_token(settings: Settings) -> str:
    return mint(settings, Role.ADMIN)


@pytest.fixture(scope="session")
def super_admin_token(settings: Settings) -> str:
    return mint(settings, Role.SUPER_ADMIN)
