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


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    yield server
    server.stop()


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
