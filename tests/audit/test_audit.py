"""Every mutation attempt is audited: allowed, denied or failed; no audit, no action.

That every mutation refuses (and records as DENIED) each caller below its role is proven for all of
them by tests/schema/test_missing_permissions.py, generated from the schema."""

from __future__ import annotations

import uuid

import httpx
from celery import Celery

from src.audit.service import AuditDraft, AuditResult, AuditService, Outcome
from src.auth.roles import Role
from src.config import Settings
from src.db.engine import create_engine
from src.db.models import AuditLog
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from tests.support.audit import audit_row, audit_rows
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, WorkerProcess, make_settings, running_api


async def _length(http: httpx.AsyncClient, api: ApiServer, queue: str, token: str) -> int:
    query = "query($n: String!) { queue(name: $n) { length } }"
    return int(
        (await gql(http, api.graphql_url, query, {"n": queue}, token=token)).ok()["queue"]["length"]
    )


def _mutation(name: str, args: str) -> str:
    return f"mutation {{ {name}{f'({args})' if args else ''} {{ ok }} }}"


async def test_a_denied_purge_leaves_the_queue_alone(
    api: ApiServer, celery_client: Celery, http: httpx.AsyncClient, viewer_token: str
) -> None:
    name = f"kept_{uuid.uuid4().hex[:6]}"
    for _ in range(3):
        celery_client.send_task("src.tasks.demo.add", args=[1, 1], queue=name)
    refused = await gql(
        http,
        api.graphql_url,
        _mutation("purgeQueue", f'name: "{name}", confirm: true'),
        token=viewer_token,
    )
    assert refused.codes == ["FORBIDDEN"]
    assert await _length(http, api, name, viewer_token) == 3


async def test_an_allowed_attempt_records_who_what_where_and_how_long(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings
) -> None:
    subject = f"ops-{uuid.uuid4().hex[:6]}"
    token = mint(settings, Role.SUPER_ADMIN, subject=subject)
    query = """
    mutation($v: JSON!) { updateSystemConfig(key: "monitoring.enabled", value: $v) { ok auditId } }
    """
    payload = (
        await gql(
            http,
            api.graphql_url,
            query,
            {"v": {"password": "hunter2", "url": "redis://u:s3cret@h:6379/0"}},
            token=token,
            headers={"User-Agent": "audit-test/1.0", "X-Forwarded-For": "203.0.113.7"},
        )
    ).ok()["updateSystemConfig"]
    assert payload["ok"] is False  # not a boolean: refused, but recorded
    row = await audit_row(http, api.graphql_url, token, payload["auditId"])
    assert row["subject"] == subject and row["role"] == "super_admin"
    assert row["action"] == "updateSystemConfig" and row["target"] == "monitoring.enabled"
    assert row["outcome"] == "FAILURE" and row["errorCode"] == "BAD_INPUT"
    assert row["request"]["value"] == {"password": "********", "url": "redis://u:********@h:6379/0"}
    assert "hunter2" not in str(row) and "s3cret" not in str(row)
    assert row["ip"] == "127.0.0.1"  # no trusted proxy configured: the header is ignored
    assert row["userAgent"] == "audit-test/1.0"
    assert row["durationMs"] is not None and row["durationMs"] >= 0
    assert row["createdAt"] <= row["finishedAt"]


async def test_trusted_proxy_forwarded_address_is_recorded(
    redis_server: EmbeddedRedis, database_url: str, http: httpx.AsyncClient, settings: Settings
) -> None:
    token = mint(settings, Role.ADMIN)
    proxied = make_settings(redis_server, database_url, trusted_proxies="127.0.0.1")
    with running_api(proxied) as behind_proxy:
        payload = (
            await gql(
                http,
                behind_proxy.graphql_url,
                "mutation { startMonitoring { ok auditId } }",
                token=token,
                headers={"X-Forwarded-For": "198.51.100.9, 127.0.0.1"},
            )
        ).ok()["startMonitoring"]
        row = await audit_row(http, behind_proxy.graphql_url, token, payload["auditId"])
    assert row["ip"] == "198.51.100.9"
    assert row["outcome"] == "SUCCESS"


async def test_audit_logs_filter_and_keyset_pages(
    api: ApiServer, http: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    subject = f"pager-{uuid.uuid4().hex[:6]}"
    token = mint(settings, Role.ADMIN, subject=subject)
    for _ in range(5):
        await gql(http, api.graphql_url, "mutation { startMonitoring { ok } }", token=token)
    await gql(http, api.graphql_url, 'mutation { retryTask(id: "nope") { ok } }', token=token)

    everything = await audit_rows(http, api.graphql_url, admin_token, first=50, actors=[subject])
    assert len(everything) == 6 and everything[0]["action"] == "retryTask"
    ids = [int(r["id"]) for r in everything]
    assert ids == sorted(ids, reverse=True)

    seen: list[str] = []
    after = None
    while True:
        data = (
            await gql(
                http,
                api.graphql_url,
                """query($a: String, $f: AuditLogFilter) { auditLogs(filter: $f, first: 2, after: $a) {
                     edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }""",
                {"a": after, "f": {"actors": [subject], "actions": ["startMonitoring"]}},
                token=admin_token,
            )
        ).ok()["auditLogs"]
        seen += [e["node"]["id"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == [r["id"] for r in everything if r["action"] == "startMonitoring"]

    failures = await audit_rows(
        http, api.graphql_url, admin_token, actors=[subject], outcomes=["FAILURE"], target="nope"
    )
    assert [r["action"] for r in failures] == ["retryTask"]
    later = await audit_rows(
        http, api.graphql_url, admin_token, actors=[subject], after=everything[0]["finishedAt"]
    )
    assert later == []
    bad = await gql(
        http,
        api.graphql_url,
        '{ auditLogs(after: "garbage") { edges { cursor } } }',
        token=admin_token,
    )
    assert bad.codes == ["BAD_INPUT"]
    viewer = await gql(
        http,
        api.graphql_url,
        "{ auditLogs { edges { cursor } } }",
        token=mint(settings, Role.VIEWER),
    )
    assert viewer.codes == ["FORBIDDEN"]


async def test_database_unavailable_means_nothing_runs(
    redis_server: EmbeddedRedis,
    workers: list[WorkerProcess],
    celery_client: Celery,
    api: ApiServer,
    http: httpx.AsyncClient,
    settings: Settings,
) -> None:
    name = f"guarded_{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        celery_client.send_task("src.tasks.demo.add", args=[1, 1], queue=name)
    token = mint(settings, Role.SUPER_ADMIN)
    unreachable = make_settings(redis_server, "postgresql://postgres@127.0.0.1:1/nowhere")
    with running_api(unreachable) as no_db:
        purge = await gql(
            http,
            no_db.graphql_url,
            _mutation("purgeQueue", f'name: "{name}", confirm: true'),
            token=token,
        )
        shutdown = await gql(
            http,
            no_db.graphql_url,
            _mutation("shutdownWorker", 'hostname: "alpha@tests"'),
            token=token,
        )
    for response in (purge, shutdown):
        assert response.data is None and response.codes == ["AUDIT_UNAVAILABLE"]
        assert "audit record could not be written" in response.errors[0]["message"]
    assert await _length(http, api, name, token) == 2
    assert celery_client.control.ping(destination=["alpha@tests"], timeout=1)


async def test_a_finished_record_is_never_rewritten(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        service = AuditService(Database(engine))
        row_id, started = await service.begin(AuditDraft(action="probe", subject="unit"))
        assert await service.finish(
            row_id, started, AuditResult(Outcome.SUCCESS, response={"n": 1})
        )
        await service.finish(row_id, started, AuditResult(Outcome.FAILURE, error="rewritten"))
        async with Database(engine).session("test") as session:
            row = await session.get(AuditLog, row_id)
        assert row is not None and row.outcome == "success" and row.error is None
    finally:
        await engine.dispose()


async def test_no_mutation_edits_or_deletes_audit_records(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str
) -> None:
    data = (
        await gql(
            http,
            api.graphql_url,
            "{ __schema { mutationType { fields { name } } } }",
            token=admin_token,
        )
    ).ok()
    names = [f["name"].lower() for f in data["__schema"]["mutationType"]["fields"]]
    assert names and not [n for n in names if "audit" in n]
