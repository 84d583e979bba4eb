"""Periodic-task fixtures: a cluster of our own, so this process leads (collector, sampler) and the
alerts it raises are its own: a redis-server, a throwaway database holding celery-admin's tables
and django-celery-beat's (created with DDL equal to its migrations), a real worker, the API with
`tests.periodic.beat_app:app` as CELERY_APP, RedBeat on the same Redis, and real `celery beat`
processes on demand."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text

from src.auth.roles import Role
from src.config import Settings
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from src.monitoring.settings import METRICS_INTERVAL
from src.system.config import ConfigStore
from tests.periodic.django_ddl import POSTGRESQL, SQLITE, statements
from tests.periodic.names import REDBEAT_PREFIX
from tests.support.audit import audit_row
from tests.support.graphql import gql, mint
from tests.support.servers import (
    ROOT,
    ApiServer,
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    running_api,
    temporary_database,
)

T = TypeVar("T")
DB_KIND = os.environ.get("CELERY_ADMIN_TEST_DB", "postgresql")
SAMPLER_INTERVAL = 1.0


async def _prepare(url: str) -> None:
    """django-celery-beat's tables, and a short sampler interval (set before the API starts)."""
    db = Database.from_url(url)
    try:
        async with db.session("django tables") as session:
            for statement in statements(SQLITE if db.dialect == "sqlite" else POSTGRESQL,
                                        sqlite=db.dialect == "sqlite"):  # fmt: skip
                await session.execute(text(statement))
        await ConfigStore(db).set(METRICS_INTERVAL.name, SAMPLER_INTERVAL, actor="tests")
    finally:
        await db.dispose()


@dataclass
class PeriodicCluster:
    redis: EmbeddedRedis
    database_url: str
    settings: Settings
    api: ApiServer
    worker: WorkerProcess
    logs: Path

    def token(self, role: Role) -> str:
        return mint(self.settings, role)

    async def query(
        self, document: str, variables: dict[str, Any] | None = None, role: Role = Role.ADMIN
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await gql(
                client, self.api.graphql_url, document, variables, token=self.token(role)
            )
        return response.ok()

    async def audit(self, audit_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await audit_row(client, self.api.graphql_url, self.token(Role.ADMIN), audit_id)


@pytest.fixture(scope="session")
def periodic_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeriodicCluster]:
    logs = tmp_path_factory.mktemp("periodic")
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    # Read by tests/periodic/beat_app.py here and in the beat processes (which inherit it).
    os.environ["PERIODIC_TEST_REDIS"] = redis.url
    try:
        with temporary_database(DB_KIND, logs) as url:
            asyncio.run(_prepare(url))
            settings = make_settings(
                redis,
                url,
                celery_app="tests.periodic.beat_app:app",
                redbeat_redis_url=f"{redis.url}/2",
                redbeat_key_prefix=REDBEAT_PREFIX,
                django_beat_database_url=url,
            )
            worker = WorkerProcess(redis, f"periodic-{uuid.uuid4().hex[:6]}@tests")
            try:
                worker.wait_ready(client_app(redis))
                with running_api(settings) as api:
                    yield PeriodicCluster(redis, url, settings, api, worker, logs)
            finally:
                worker.stop()
    finally:
        redis.stop()


class BeatProcess:
    """A real `celery beat` (its schedule file and log in the test's directory)."""

    def __init__(self, app: str, directory: Path, *extra: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / f"beat-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", app, "beat", "--loglevel=info",
                f"--schedule={directory / 'celerybeat-schedule'}", *extra,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: a beat that dies without a word (no lock released, nothing synced)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(15)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    *,
    within: float = 60.0,
    every: float = 0.5,
) -> T:
    """Poll until `done(probe())`; a generous deadline for a loaded machine."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = await probe()
            if done(last):
                return last
        except (AssertionError, httpx.HTTPError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:g}s; last: {last!r}")
        await asyncio.sleep(every)


__all__ = ["SAMPLER_INTERVAL", "BeatProcess", "PeriodicCluster", "eventually"]
