"""Starting and stopping real processes and servers for the tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from celery import Celery
from fastapi import FastAPI

from src.config import Settings
from src.db.migrations import upgrade
from src.embedded_redis import EmbeddedRedis, free_port
from src.main import create_app
from src.runtime import Runtime
from tests.support.brokers import broker_url_for, management_url_for

ROOT = Path(__file__).resolve().parents[2]
TEST_JWT_SECRET = "test-secret-which-is-long-enough-for-hs256-keys"
PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def redis_binary() -> str:
    """Prefer the machine's redis-server (what production runs), else the embedded one."""
    return shutil.which("redis-server") or EmbeddedRedis().binary


def make_settings(redis: EmbeddedRedis, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_host": "127.0.0.1",
        "redis_port": redis.port,
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "inspect_timeout": 1.0,
        "inspect_cache_ttl": 0.5,
        # The suite calls from one IP far faster than any client should: budgets out of the way
        # (tests/security sets its own).
        "rate_limit_subject_per_minute": 1_000_000,
        "rate_limit_anonymous_per_minute": 1_000_000,
        "rate_limit_denied_per_minute": 1_000_000,
    }
    broker = broker_url_for(redis)
    if not broker.startswith("redis://"):  # the amqp run: results and the bus stay on Redis
        values.update(
            celery_broker_url=broker,
            celery_result_backend=f"{redis.url}/1",
            pubsub_url=f"{redis.url}/0",
            rabbitmq_management_url=management_url_for(redis),
        )
    values.update(overrides)
    return Settings(**values)


def worker_env(redis: EmbeddedRedis) -> dict[str, str]:
    env = {
        **os.environ,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis.port),
        "PYTHONPATH": str(ROOT),
    }
    broker = broker_url_for(redis)
    if not broker.startswith("redis://"):
        env["CELERY_BROKER_URL"] = broker
    return env


class WorkerProcess:
    """One real `celery worker` of the demo app, as a subprocess (`--without-mingle` unless
    `mingle`: most tests do not want a second of start-up spent on it)."""

    def __init__(
        self,
        redis: EmbeddedRedis,
        hostname: str,
        *,
        queues: str = "ai_analysis,maintenance,health",
        concurrency: int = 2,
        extra: tuple[str, ...] = (),
        mingle: bool = False,
        app: str = "src.tasks.celery_app.app",
        events: bool = True,
        launcher: tuple[str, ...] = ("-m", "celery"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.redis = redis
        self.hostname = hostname
        self.log = (
            Path(os.environ.get("TMPDIR", "/tmp")) / f"worker-{hostname}-{uuid.uuid4().hex[:6]}.log"
        )
        self.process = subprocess.Popen(
            [
                sys.executable, *launcher, "-A", app, "worker",
                "--loglevel=info", f"--queues={queues}", f"--concurrency={concurrency}",
                f"--hostname={hostname}", *(("-E",) if events else ()), "--without-gossip",
                *(() if mingle else ("--without-mingle",)), *extra,
            ],
            cwd=ROOT,
            env={**worker_env(redis), **(env or {})},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, app: Celery, timeout: float = 90.0) -> None:
        """Until the worker answers a ping addressed to it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.hostname} exited: {self.log.read_text()[-2000:]}")
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise RuntimeError(f"worker {self.hostname} did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def client_app(redis: EmbeddedRedis) -> Celery:
    """A Celery app on the test Redis to send tasks and ping workers from the tests."""
    from src.tasks.celery_app import DEMO_QUEUES  # noqa: F401  (queues are declared by name)

    app = Celery("tests", set_as_current=False)
    app.conf.update(
        broker_url=broker_url_for(redis),
        result_backend=f"{redis.url}/1",
        broker_transport_options={"polling_interval": 0.05},
        task_send_sent_event=True,
        result_extended=True,
    )
    return app


class ApiServer:
    """The real app under uvicorn, in a thread of the test process, on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.app: FastAPI = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # as `celery-admin serve`: only TRUSTED_PROXIES counts
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/celery-admin/graphql"

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def start(self, timeout: float = 60.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("API server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def running_api(settings: Settings) -> Iterator[ApiServer]:
    server = ApiServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _pg_create(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _pg_drop(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def temporary_database(kind: str, tmp_dir: Path) -> Iterator[str]:
    """A fresh, migrated database of `kind` ('postgresql' or 'sqlite'); dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_dir / f'celery_admin_{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    name = f"celery_admin_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_create(name))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_drop(name))


__all__ = [
    "TEST_JWT_SECRET",
    "ApiServer",
    "WorkerProcess",
    "client_app",
    "make_settings",
    "redis_binary",
    "running_api",
    "temporary_database",
    "worker_env",
]
