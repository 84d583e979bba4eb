"""Running the doctor's checks the way the API does, against the parts a test set up."""

from __future__ import annotations

import json
from typing import Any

from celery import Celery
from redis import asyncio as aioredis

from src.control.inspector import Inspector
from src.db.session import Database
from src.doctor.doctor import DoctorReport, run_checks
from src.doctor.model import Advisory, Check
from src.doctor.sources import Sources
from src.embedded_redis import EmbeddedRedis
from tests.support.servers import WorkerProcess

APP = "tests.doctor.worker_app.app"


def doctor_worker(
    redis: EmbeddedRedis,
    hostname: str,
    queue: str,
    conf: dict[str, Any] | None = None,
    *,
    events: bool = True,
    clock_offset: float = 0.0,
    extra: tuple[str, ...] = (),
) -> WorkerProcess:
    env = {"DOCTOR_WORKER_CONF": json.dumps(conf or {})}
    launcher: tuple[str, ...] = ("-m", "celery")
    if clock_offset:
        env["DOCTOR_CLOCK_OFFSET"] = str(clock_offset)
        launcher = ("-m", "tests.doctor.skewed")
    return WorkerProcess(
        redis,
        hostname,
        queues=queue,
        concurrency=1,
        app=APP,
        events=events,
        launcher=launcher,
        env=env,
        extra=("--pool=solo", *extra),
    )


async def check(
    check: Check,
    app: Celery,
    *,
    inspect: bool = True,
    db: Database | None = None,
    state_redis: aioredis.Redis | None = None,
) -> list[Advisory]:
    """One check's findings (a check that could not run fails the test)."""
    inspector = Inspector(app, timeout=2.0, cache_ttl=0) if inspect else None
    try:
        report: DoctorReport = await run_checks(
            Sources(app=app, inspector=inspector, db=db, state_redis=state_redis), (check,)
        )
    finally:
        if inspector is not None:
            inspector.close()
    assert report.checked == [check.code], report.advisories
    return report.advisories


__all__ = ["APP", "check", "doctor_worker"]
