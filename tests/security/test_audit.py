"""Findings on the audit trail: a variable of the wrong type left no audit row; error text was
not redacted like the variables; a completion lost to a database outage left the row pending
forever; no sweep of rows left pending by a dead process; no retention."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from src.audit.maintenance import AUDIT_RETENTION_DAYS, AuditMaintenance
from src.audit.service import AuditDraft, AuditResult, AuditService, Outcome
from src.db.models import AuditLog
from src.db.models.base import utcnow
from src.db.session import Database
from src.system.config import ConfigStore
from tests.conftest import DB_KIND
from tests.support.audit import audit_rows
from tests.support.graphql import gql
from tests.support.servers import ApiServer, temporary_database
from tests.support.stall import StallingServer

SECRET = "s3cr3t-value-xyz"


async def test_a_variable_of_the_wrong_type_is_audited(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str
) -> None:
    query = 'mutation($c: Boolean) { purgeQueue(name: "audit-coercion", confirm: $c) { ok } }'
    response = await gql(
        http,
        api.graphql_url,
        query,
        {"c": {"password": SECRET}},
        token=admin_token,
    )
    assert response.errors and response.data is None
    # written just after the answer: wait for it
    deadline = time.monotonic() + 30
    while True:
        rows = await audit_rows(http, api.graphql_url, admin_token, actions=["purgeQueue"])
        row = next(
            (r for r in rows if (r["request"] or {}).get("rejected") and r["outcome"] != "PENDING"),
            None,
        )
        if row is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert row is not None, "no audit row for the rejected attempt"
    assert row["outcome"] == "FAILURE" and row["errorCode"] == "BAD_INPUT", row
    assert row["subject"] == "test-admin"
    assert SECRET not in str(row["request"]) and SECRET not in (row["error"] or "")
    assert "Boolean" in row["error"]


@pytest.fixture
def database(database_url: str) -> Database:
    return Database.from_url(database_url)


async def test_error_text_is_redacted_like_the_variables(database: Database) -> None:
    audit = AuditService(database)
    request = {"value": {"apiKey": SECRET}, "url": "redis://:pw-in-url@h/0"}
    row_id, started = await audit.begin(AuditDraft(action="testRedaction", request=request))
    error = f"refused {{'apiKey': '{SECRET}'}} for redis://:pw-in-url@h/0, echo {SECRET}"
    assert await audit.finish(
        row_id, started, AuditResult(Outcome.FAILURE, error=error), request=request
    )
    async with database.session("test") as session:
        row = (await session.execute(select(AuditLog).where(AuditLog.id == row_id))).scalar_one()
    assert SECRET not in row.error and "pw-in-url" not in row.error
    assert SECRET not in str(row.request) and "pw-in-url" not in str(row.request)
    await database.dispose()


async def test_a_completion_lost_to_an_outage_is_kept_and_retried(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage is a TCP proxy in front of PostgreSQL")
    base, _, rest = database_url.partition("@")
    hostport, _, name = rest.partition("/")
    proxy = StallingServer(upstream=int(hostport.rsplit(":", 1)[1]))
    database = Database.from_url(f"{base}@127.0.0.1:{proxy.port}/{name}")
    audit = AuditService(database)
    try:
        row_id, started = await audit.begin(AuditDraft(action="setRateLimit"))
        proxy.freeze()  # the database goes away while the action runs
        done = await audit.finish(row_id, started, AuditResult(Outcome.SUCCESS, response="ok"))
        assert done is False and audit.unfinished == 1
        proxy.thaw()  # ... and comes back
        deadline = time.monotonic() + 60
        while audit.unfinished and time.monotonic() < deadline:
            await audit.retry_unfinished()
        assert audit.unfinished == 0
    finally:
        await database.dispose()
        proxy.close()
    direct = Database.from_url(database_url)
    async with direct.session("test") as session:
        row = (await session.execute(select(AuditLog).where(AuditLog.id == row_id))).scalar_one()
    await direct.dispose()
    assert row.outcome == "success" and row.response == "ok"


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[Database]:
    """A database of its own: retention deletes every row older than its limit."""
    with temporary_database(DB_KIND, tmp_path) as url:
        yield Database.from_url(url)


async def test_pending_rows_are_swept_and_retention_applies(own_database: Database) -> None:
    database = own_database
    audit = AuditService(database)
    config = ConfigStore(database)
    maintenance = AuditMaintenance(database, config, batch_size=2)
    dead_id, _ = await audit.begin(AuditDraft(action="crashedMidCall"))
    live_id, live_started = await audit.begin(AuditDraft(action="stillRunning"))
    later = utcnow() + timedelta(minutes=11)
    assert await maintenance.sweep_once(now=later) >= 2  # both are old by then
    # the row of a call still running is completed by its late completion all the same
    assert await audit.finish(live_id, live_started, AuditResult(Outcome.SUCCESS))
    async with database.session("test") as session:
        rows = {
            r.id: r
            for r in (
                await session.execute(select(AuditLog).where(AuditLog.id.in_([dead_id, live_id])))
            ).scalars()
        }
    assert rows[dead_id].outcome == "interrupted"
    assert rows[live_id].outcome == "success"

    # retention: default keeps everything; with a limit, older rows go in batches
    assert await config.get(AUDIT_RETENTION_DAYS.name) == 0
    assert await maintenance.prune_once(now=utcnow() + timedelta(days=3650)) == 0
    await config.set(AUDIT_RETENTION_DAYS.name, 1, actor="test")
    async with database.session("test") as session:
        before = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    deleted = await maintenance.prune_once(now=utcnow() + timedelta(days=2))
    assert deleted == before
    await config.set(AUDIT_RETENTION_DAYS.name, 0, actor="test")
    await database.dispose()
