"""Scoped permissions: an admin bound to the `ai_analysis` and `ai_backlog` queues, `ai.*` tasks
(and the demo's `add`) and `ai_worker*` hostnames cannot see, preview, revoke or retry any other
task, nor see other queues, workers, alerts, periodic entries or audit rows, through any root field.

The fields are found in the schema: every root field taking a TaskFilterInput or declaring task
ids or periodic entries in its guard's `On(...)`, every field declared cluster-wide, and every root
field whose type reaches cluster data (tasks, queues, workers, alerts, periodic entries, audit
rows, metrics), found by walking the schema's introspection. Each must have a probe below, so a
new such field fails this test until it is proven scoped too.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis import asyncio as aioredis
from sqlalchemy import select
from strawberry.utils.str_converters import to_camel_case

import resolvers
from schema.core.discovery import root_fields
from schema.core.guard import guard_of
from src.access_scope import AccessScope, ScopeRule
from src.auth.roles import Role
from src.auth.scoped_events import MAX_REMEMBERED, ScopedEvents
from src.bus import Channel, envelope
from src.config import Settings
from src.db.engine import create_engine
from src.db.models import AlertRecord, AuditLog, TaskRecord
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from tests.support.brokers import broker_url_for
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer, make_settings, running_api
from tests.support.ws import SubscriptionError, subscribed

SCOPED = "ai-team-admin"
BACKLOG = "ai_backlog"  # a queue of the scope that no worker consumes: its messages wait
# the demo app's entries: `add` to `health` (in scope), `cleanup_storage` to `maintenance`
IN_ENTRY, OUT_ENTRY = "add-every-10s", "cleanup-storage-every-minute"
SCOPE_QUEUES = ("ai_analysis", BACKLOG, "health")
BINDINGS = [
    {
        "id": "ai-team",
        "subjects": [SCOPED],
        "queues": list(SCOPE_QUEUES),
        "task_names": ["ai.*", "src.tasks.demo.add"],
        "workers": ["ai_worker*"],
    }
]
# Types of cluster data: a root field whose result reaches one of them needs a probe.
CLUSTER_DATA = frozenset(
    {
        "Task", "TaskEvent", "TaskStats", "PeekedTask", "Queue", "QueueMetrics", "Worker",
        "WorkerMetrics", "WorkerEvent", "Alert", "AlertDelivery", "PeriodicTask", "BeatEntry",
        "AuditLog", "MetricsSample", "MetricsPoint",
    }
)  # fmt: skip
SET_BINDINGS = """mutation($v: JSON!) { updateSystemConfig(key: "access.bindings", value: $v) {
  ok errors { code message } } }"""


@dataclass
class World:
    api: ApiServer
    scoped: str  # the scoped admin's token
    inside: str  # a task id in scope
    outside: str  # a task id out of scope
    redis_url: str
    db: Database
    admin: str  # an unscoped admin's token
    super_admin: str

    async def ask(
        self, http: httpx.AsyncClient, document: str, token: str | None = None, **variables: Any
    ) -> Any:
        return await gql(
            http, self.api.graphql_url, document, variables or None, token=token or self.scoped
        )


@pytest.fixture(scope="module")
def scoped_api(redis_server: EmbeddedRedis, database_url: str) -> Iterator[ApiServer]:
    """An API given the demo app (its queues, routes and two periodic entries), on the session's
    Redis and database."""
    with running_api(
        make_settings(
            redis_server,
            database_url,
            celery_app="src.tasks.celery_app:app",
            celery_broker_url=broker_url_for(redis_server),
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def world(
    scoped_api: ApiServer, settings: Settings, redis_server: EmbeddedRedis, database_url: str
) -> AsyncIterator[World]:
    api = scoped_api
    async with httpx.AsyncClient(timeout=30) as http:
        done = await gql(
            http,
            api.graphql_url,
            SET_BINDINGS,
            {"v": BINDINGS},
            token=mint(settings, Role.SUPER_ADMIN),
        )
        assert done.ok()["updateSystemConfig"]["ok"], done
    inside, outside = f"in-{uuid.uuid4().hex}", f"out-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    db = Database(create_engine(database_url))  # this loop's own: the API's is on its thread
    async with db.session("test") as session:
        for task_id, name, queue in (
            (inside, "ai.analyse", "ai_analysis"),
            (outside, "billing.charge", "billing"),
        ):
            session.add(
                TaskRecord(
                    task_id=task_id,
                    name=name,
                    queue=queue,
                    state="FAILURE",
                    seen_at=now,
                    received_at=now,
                    finished_at=now,
                )
            )
    yield World(
        api,
        mint(settings, Role.ADMIN, subject=SCOPED),
        inside,
        outside,
        f"{redis_server.url}/0",
        db,
        mint(settings, Role.ADMIN),
        mint(settings, Role.SUPER_ADMIN),
    )
    await db.dispose()
    async with httpx.AsyncClient(timeout=30) as http:
        await gql(
            http,
            api.graphql_url,
            SET_BINDINGS,
            {"v": []},
            token=mint(settings, Role.SUPER_ADMIN),
        )
        await gql(
            http,
            api.graphql_url,
            f'mutation {{ purgeQueue(name: "{BACKLOG}", confirm: true) {{ ok }} }}',
            token=mint(settings, Role.SUPER_ADMIN),
        )


def task_touching_fields() -> dict[str, str]:
    """Root fields that reach tasks, as 'kind:name' -> how (the id argument, or 'filter')."""
    found: dict[str, str] = {}
    for kind, fields in root_fields(resolvers).items():
        for name, field in fields.items():
            guard = guard_of(field)
            args = {a.python_name for a in field.arguments}
            if guard is not None and guard.on.tasks:
                found[f"{kind.value}:{to_camel_case(name)}"] = to_camel_case(guard.on.tasks)
            elif "filter" in args and any(
                "TaskFilterInput" in str(a.type_annotation.annotation) for a in field.arguments
            ):
                found[f"{kind.value}:{to_camel_case(name)}"] = "filter"
    return found


def _named(kind: dict[str, Any]) -> str:
    while kind.get("ofType"):
        kind = kind["ofType"]
    return str(kind["name"])


def cluster_data_fields() -> dict[str, str]:
    """Root fields whose result reaches cluster data, walked over the schema's introspection;
    fields refused to scoped callers as cluster-wide; fields acting on periodic entries."""
    from schema.root import schema

    data = schema.introspect()["__schema"]
    types = {t["name"]: t for t in data["types"]}

    def reaches(name: str, seen: set[str]) -> set[str]:
        if name in seen:
            return set()
        seen.add(name)
        kind = types[name]
        found = {name} & CLUSTER_DATA
        for field in kind.get("fields") or []:
            found |= reaches(_named(field["type"]), seen)
        for possible in kind.get("possibleTypes") or []:
            found |= reaches(possible["name"], seen)
        return found

    found: dict[str, str] = {}
    for key, kind in (("queryType", "query"), ("mutationType", "mutation"),
                      ("subscriptionType", "subscription")):  # fmt: skip
        for field in types[data[key]["name"]]["fields"]:
            reached = reaches(_named(field["type"]), set())
            if reached:
                found[f"{kind}:{field['name']}"] = ",".join(sorted(reached))
    for kind, fields in root_fields(resolvers).items():
        for name, field in fields.items():
            guard = guard_of(field)
            if guard is not None and guard.cluster_wide:
                found[f"{kind.value}:{to_camel_case(name)}"] = "cluster-wide"
            elif guard is not None and guard.on.periodic_tasks:
                found[f"{kind.value}:{to_camel_case(name)}"] = "periodic entry"
    return found


Probe = Callable[[World, httpx.AsyncClient], Awaitable[None]]


async def _denied(world: World, http: httpx.AsyncClient, document: str) -> None:
    for task_id, allowed in ((world.outside, False), (world.inside, True)):
        response = await gql(
            http, world.api.graphql_url, document, {"id": task_id}, token=world.scoped
        )
        denied = response.codes == ["FORBIDDEN"]
        assert denied is not allowed, (task_id, response)
        if denied:
            assert "outside your scope" in response.errors[0]["message"]


def _ids_filter(world: World) -> dict[str, Any]:
    return {"ids": [world.inside, world.outside]}


async def probe_task(world: World, http: httpx.AsyncClient) -> None:
    await _denied(world, http, "query($id: String!) { task(id: $id) { id } }")


async def probe_revoke_task(world: World, http: httpx.AsyncClient) -> None:
    await _denied(
        world, http, "mutation($id: String!) { revokeTask(id: $id) { ok errors { code } } }"
    )


async def probe_retry_task(world: World, http: httpx.AsyncClient) -> None:
    await _denied(
        world, http, "mutation($id: String!) { retryTask(id: $id) { ok errors { code } } }"
    )


async def probe_tasks(world: World, http: httpx.AsyncClient) -> None:
    response = await gql(
        http,
        world.api.graphql_url,
        "query($f: TaskFilterInput) { tasks(filter: $f) { edges { node { id } } totalCount } }",
        {"f": _ids_filter(world)},
        token=world.scoped,
    )
    page = response.ok()["tasks"]
    assert [e["node"]["id"] for e in page["edges"]] == [world.inside]
    assert page["totalCount"] == 1
    everything = await gql(
        http, world.api.graphql_url, "{ tasks(first: 200) { edges { node { queue name } } } }",
        token=world.scoped,
    )  # fmt: skip
    nodes = [e["node"] for e in everything.ok()["tasks"]["edges"]]
    assert nodes and all(n["queue"] in SCOPE_QUEUES for n in nodes)


async def probe_task_stats(world: World, http: httpx.AsyncClient) -> None:
    response = await gql(
        http,
        world.api.graphql_url,
        "query($f: TaskFilterInput) { taskStats(filter: $f) { total byName { key count } } }",
        {"f": _ids_filter(world)},
        token=world.scoped,
    )
    stats = response.ok()["taskStats"]
    assert stats["total"] == 1
    assert [c["key"] for c in stats["byName"]] == ["ai.analyse"]


def _bulk(field: str) -> Probe:
    async def probe(world: World, http: httpx.AsyncClient) -> None:
        response = await gql(
            http,
            world.api.graphql_url,
            f"mutation($f: TaskFilterInput) {{ {field}(filter: $f) {{ ok errors {{ message }} "
            "selection { token count sample { id } } } }",
            {"f": _ids_filter(world)},
            token=world.scoped,
        )
        selection = response.ok()[field]["selection"]
        assert selection["count"] == 1, response
        assert [t["id"] for t in selection["sample"]] == [world.inside]

    return probe


async def probe_task_events(world: World, http: httpx.AsyncClient) -> None:
    query = """subscription { taskEvents { __typename ... on TaskEvent { taskId } } }"""
    async with subscribed(world.api.graphql_url, world.scoped, query) as client:
        deadline = time.monotonic() + 30
        while world.api.runtime.bus.health().subscribers < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        publisher = aioredis.Redis.from_url(world.redis_url)
        try:
            for task_id, name, queue in (
                (world.outside, "billing.charge", "billing"),
                (world.inside, "ai.analyse", "ai_analysis"),
            ):
                data = {"task_id": task_id, "name": name, "queue": queue, "state": "STARTED"}
                message = envelope("task-started", data)
                await publisher.publish(str(Channel.TASKS), json.dumps(message))
        finally:
            await publisher.aclose()
        first = (await client.next(within=30))["taskEvents"]
        assert first["taskId"] == world.inside  # the out-of-scope event, sent first, never came

        # Events naming neither queue nor name (task-started after the collector wrote the
        # task): decided from the task history, not dropped.
        publisher = aioredis.Redis.from_url(world.redis_url)
        try:
            for task_id in (world.outside, f"unknown-{uuid.uuid4().hex}", world.inside):
                message = envelope("task-succeeded", {"task_id": task_id, "state": "SUCCESS"})
                await publisher.publish(str(Channel.TASKS), json.dumps(message))
        finally:
            await publisher.aclose()
        bare = (await client.next(within=30))["taskEvents"]
        assert bare["taskId"] == world.inside  # the outside and the unknown one never came


def _refused(document: str, **variables: Any) -> Probe:
    """A field refused to scoped callers (and answered to an unscoped admin)."""

    async def probe(world: World, http: httpx.AsyncClient) -> None:
        scoped = await world.ask(http, document, **variables)
        assert scoped.codes == ["FORBIDDEN"], scoped
        assert "outside your scope" in scoped.errors[0]["message"]
        unscoped = await world.ask(http, document, world.super_admin, **variables)
        assert "FORBIDDEN" not in unscoped.codes, unscoped

    return probe


async def _subscription_refused(world: World, document: str, **variables: Any) -> None:
    async with subscribed(world.api.graphql_url, world.scoped, document, variables) as client:
        with pytest.raises(SubscriptionError) as refused:
            await client.next(within=30)
    assert refused.value.codes == ["FORBIDDEN"], refused.value


async def probe_metrics(world: World, http: httpx.AsyncClient) -> None:
    await _subscription_refused(world, "subscription { metrics { __typename } }")


async def probe_worker_events(world: World, http: httpx.AsyncClient) -> None:
    document = "subscription($h: String) { workerEvents(hostname: $h) { __typename } }"
    for hostname in ("alpha@tests", None):  # another's worker; every worker
        await _subscription_refused(world, document, h=hostname)


async def probe_queues(world: World, http: httpx.AsyncClient) -> None:
    document = "{ queues { name consumers } }"
    everyone = {q["name"] for q in (await world.ask(http, document, world.admin)).ok()["queues"]}
    assert {"ai_analysis", "maintenance", "health"} <= everyone
    scoped = (await world.ask(http, document)).ok()["queues"]
    print("scoped queues answer:", scoped)
    assert "ai_analysis" in {q["name"] for q in scoped}
    assert {q["name"] for q in scoped} <= set(SCOPE_QUEUES)
    assert all(c.startswith("ai_worker") for q in scoped for c in q["consumers"])


async def probe_queue(world: World, http: httpx.AsyncClient) -> None:
    document = "query($n: String!) { queue(name: $n) { name consumers } }"
    assert (await world.ask(http, document, n="maintenance")).codes == ["FORBIDDEN"]
    mine = (await world.ask(http, document, n="ai_analysis")).ok()["queue"]
    assert mine["name"] == "ai_analysis" and mine["consumers"] == []  # alpha/beta: not mine


async def probe_peek_queue(world: World, http: httpx.AsyncClient) -> None:
    document = "query($n: String!) { peekQueue(name: $n, n: 100) { taskName } }"
    assert (await world.ask(http, document, n="billing")).codes == ["FORBIDDEN"]
    names = {
        t["taskName"] for t in (await world.ask(http, document, world.admin, n=BACKLOG)).ok()[
            "peekQueue"]
    }  # fmt: skip
    assert {"ai.analyse", "billing.charge"} <= names  # both wait there (see the fixture)
    mine = (await world.ask(http, document, n=BACKLOG)).ok()["peekQueue"]
    assert mine and {t["taskName"] for t in mine} == {"ai.analyse"}


ALERT_KINDS: list[tuple[str, str | None, dict[str, Any], bool]] = [
    # kind, subject, details, visible to the scoped admin
    ("queue_backlog", "ai_analysis", {}, True),
    ("queue_backlog", "billing", {}, False),
    ("worker_offline", "ai_worker@gpu1", {}, True),
    ("worker_offline", "alpha@tests", {}, False),
    ("task_stuck", None, {"task_ids": ["x"], "scope": {"queues": ["ai_analysis"],
                                                       "names": ["ai.analyse"]}}, True),
    ("task_stuck", None, {"task_ids": ["x"], "scope": {"queues": [], "names": []}}, False),
    ("failure_rate", None, {"scope": {"queues": ["ai_analysis"], "names": []}}, False),
    ("task_stuck", None, {"task_ids": ["x"]}, False),  # says not what it is over
    ("periodic_missed", IN_ENTRY, {"task": "src.tasks.demo.add", "queue": "health"}, True),
    ("periodic_missed", OUT_ENTRY, {"task": "src.tasks.demo.cleanup_storage",
                                    "queue": "maintenance"}, False),
    ("collector_dropping", None, {"dropped": {"intake": 3}}, False),
    ("auth_failures", "ip:10.0.0.9", {"source": "ip"}, False),
]  # fmt: skip


async def probe_alerts(world: World, http: httpx.AsyncClient) -> None:
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    async with world.db.session("test") as session:
        for n, (kind, subject, details, _visible) in enumerate(ALERT_KINDS):
            session.add(
                AlertRecord(
                    alert_key=f"scopes-{run}-{n}|{subject or ''}", rule_id=f"scopes-{run}-{n}",
                    kind=kind, severity="warning", subject=subject, message=f"{kind} {subject}",
                    raised_at=now, resolved_at=now, details=details,
                )
            )  # fmt: skip
    document = "{ alerts(active: false, first: 500) { ruleId } }"

    async def seen(token: str) -> set[int]:
        rows = (await world.ask(http, document, token)).ok()["alerts"]
        prefix = f"scopes-{run}-"
        return {
            int(a["ruleId"].removeprefix(prefix)) for a in rows if a["ruleId"].startswith(prefix)
        }

    assert await seen(world.admin) == set(range(len(ALERT_KINDS)))
    assert await seen(world.scoped) == {n for n, a in enumerate(ALERT_KINDS) if a[3]}


async def probe_alerts_subscription(world: World, http: httpx.AsyncClient) -> None:
    document = "subscription { alerts { __typename ... on AlertEvent { kind alert { ruleId } } } }"
    run = uuid.uuid4().hex[:8]
    async with subscribed(world.api.graphql_url, world.scoped, document) as client:
        deadline = time.monotonic() + 30
        while world.api.runtime.bus.health().subscribers < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        publisher = aioredis.Redis.from_url(world.redis_url)
        try:
            for n, (kind, subject, details, _visible) in enumerate(ALERT_KINDS):
                alert = {
                    "key": f"s-{run}-{n}|", "rule_id": f"s-{run}-{n}", "kind": kind,
                    "severity": "critical", "subject": subject, "message": kind,
                    "raised_at": datetime.now(UTC).isoformat(), "details": details,
                }  # fmt: skip
                await publisher.publish(
                    str(Channel.ALERTS), json.dumps(envelope("alert.raised", alert))
                )
        finally:
            await publisher.aclose()
        wanted = {f"s-{run}-{n}" for n, a in enumerate(ALERT_KINDS) if a[3]}
        last = f"s-{run}-{max(n for n, a in enumerate(ALERT_KINDS) if a[3])}"
        got: list[str] = []
        while last not in got:
            event = (await client.next(within=30))["alerts"]
            if event.get("kind") == "alert.raised":
                got.append(event["alert"]["ruleId"])
        assert [r for r in got if r.startswith(f"s-{run}-")] == sorted(
            wanted, key=lambda r: int(r.rsplit("-", 1)[1])
        )


async def probe_dashboard(world: World, http: httpx.AsyncClient) -> None:
    document = """{ dashboard { queues { name oldestTaskId } workers { online workers { hostname } }
      metrics { takenAt } activeAlerts { kind subject } recentFailures } }"""
    everyone = (await world.ask(http, document, world.admin)).ok()["dashboard"]
    scoped = (await world.ask(http, document)).ok()["dashboard"]
    assert {q["name"] for q in scoped["queues"]} <= set(SCOPE_QUEUES)
    assert scoped["workers"] == {"online": 0, "workers": []}
    assert scoped["metrics"] is None
    assert all(a["kind"] in ("queue_backlog", "worker_offline", "periodic_missed",
                             "task_stuck") for a in scoped["activeAlerts"])  # fmt: skip
    # the world's two FAILURE tasks: only the inside one counts for the scoped admin
    assert 1 <= scoped["recentFailures"] < everyone["recentFailures"]


async def probe_system_status(world: World, http: httpx.AsyncClient) -> None:
    document = """{ systemStatus { workersOnline collector { __typename } advisories { code }
      beat { entries { name } entriesTotal reasons } } }"""
    status = (await world.ask(http, document)).ok()["systemStatus"]
    assert status["workersOnline"] == 0  # no ai_worker* runs
    assert status["collector"] is None and status["advisories"] == []
    assert [e["name"] for e in status["beat"]["entries"]] == [IN_ENTRY]
    assert status["beat"]["entriesTotal"] == 1 and status["beat"]["reasons"] == []


async def probe_periodic_tasks(world: World, http: httpx.AsyncClient) -> None:
    document = "{ periodicTasks { name task } }"
    everyone = {t["name"] for t in (await world.ask(http, document, world.admin)).ok()[
        "periodicTasks"]}  # fmt: skip
    assert {IN_ENTRY, OUT_ENTRY} <= everyone
    scoped = (await world.ask(http, document)).ok()["periodicTasks"]
    assert [t["name"] for t in scoped] == [IN_ENTRY]


async def probe_periodic_task(world: World, http: httpx.AsyncClient) -> None:
    document = "query($n: String!) { periodicTask(name: $n) { name } }"
    assert (await world.ask(http, document, n=OUT_ENTRY)).codes == ["FORBIDDEN"]
    assert (await world.ask(http, document, n="no-such-entry")).codes == ["FORBIDDEN"]
    assert (await world.ask(http, document, n=IN_ENTRY)).ok()["periodicTask"]["name"] == IN_ENTRY


async def _denied_row(world: World, action: str, target: str) -> AuditLog:
    async with world.db.session("test") as session:
        return (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.action == action, AuditLog.target == target)
                .order_by(AuditLog.id.desc())
                .limit(1)
            )
        ).one()


async def probe_run_periodic_task_now(world: World, http: httpx.AsyncClient) -> None:
    document = "mutation($n: String!) { runPeriodicTaskNow(name: $n) { ok errors { code } } }"
    denied = await world.ask(http, document, n=OUT_ENTRY)
    assert denied.codes == ["FORBIDDEN"], denied
    row = await _denied_row(world, "runPeriodicTaskNow", OUT_ENTRY)
    assert (row.outcome, row.subject, row.error_code) == ("denied", SCOPED, "FORBIDDEN")
    assert row.error == f"outside your scope: periodic entry {OUT_ENTRY}"
    print(
        "scoped periodic denial audit row:", {c.name: getattr(row, c.name) for c in row.__table__.c}
    )
    done = await world.ask(http, document, n=IN_ENTRY)
    assert done.ok()["runPeriodicTaskNow"]["ok"] is True, done


async def probe_set_periodic_task_enabled(world: World, http: httpx.AsyncClient) -> None:
    document = """mutation($n: String!) { setPeriodicTaskEnabled(name: $n, enabled: false) {
      ok errors { code } } }"""
    assert (await world.ask(http, document, n=OUT_ENTRY)).codes == ["FORBIDDEN"]
    row = await _denied_row(world, "setPeriodicTaskEnabled", OUT_ENTRY)
    assert (row.outcome, row.error_code) == ("denied", "FORBIDDEN")
    # In scope the action runs: the demo's entries are code (beat_schedule), so UNSUPPORTED.
    mine = (await world.ask(http, document, n=IN_ENTRY)).ok()["setPeriodicTaskEnabled"]
    assert mine["errors"] == [{"code": "UNSUPPORTED"}], mine


async def probe_audit_logs(world: World, http: httpx.AsyncClient) -> None:
    await world.ask(http, 'mutation { purgeQueue(name: "billing", confirm: true) { ok } }')
    document = """query($a: [String!]) { auditLogs(first: 200, filter: {actors: $a}) {
      edges { node { subject action } } } }"""
    everyone = (await world.ask(http, document, world.admin)).ok()["auditLogs"]["edges"]
    assert {e["node"]["subject"] for e in everyone} - {SCOPED}  # others' rows exist
    mine = (await world.ask(http, document)).ok()["auditLogs"]["edges"]
    assert mine and {e["node"]["subject"] for e in mine} == {SCOPED}
    others = await world.ask(http, document, a=["test-super_admin"])
    assert others.ok()["auditLogs"]["edges"] == []


async def probe_test_alert_sink(world: World, http: httpx.AsyncClient) -> None:
    document = 'mutation { testAlertSink(name: "ops") { ok } }'
    assert (await world.ask(http, document)).codes == ["FORBIDDEN"]


async def probe_workers(world: World, http: httpx.AsyncClient) -> None:
    query = "{ workers { hostname activeTasks { id } } }"
    scoped = await world.ask(http, query)
    assert scoped.ok()["workers"] == []  # no hostname matches ai_worker*


async def probe_worker(world: World, http: httpx.AsyncClient) -> None:
    one = await world.ask(http, '{ worker(hostname: "alpha@tests") { hostname } }')
    assert one.codes == ["FORBIDDEN"]


PROBES: dict[str, Probe] = {
    "query:alertDeliveries": _refused("{ alertDeliveries { __typename } }"),
    "query:alerts": probe_alerts,
    "query:auditLogs": probe_audit_logs,
    "query:dashboard": probe_dashboard,
    "query:metricsHistory": _refused(
        "query($f: DateTime!, $t: DateTime!) { metricsHistory(from: $f, to: $t) { at } }",
        f="2026-01-01T00:00:00Z",
        t="2026-01-01T01:00:00Z",
    ),
    "query:peekQueue": probe_peek_queue,
    "query:periodicTask": probe_periodic_task,
    "query:periodicTasks": probe_periodic_tasks,
    "query:queue": probe_queue,
    "query:queues": probe_queues,
    "query:realtimeMetrics": _refused("{ realtimeMetrics { takenAt } }"),
    "query:systemConfiguration": _refused("{ systemConfiguration { __typename } }"),
    "query:systemStatus": probe_system_status,
    "query:worker": probe_worker,
    "query:workers": probe_workers,
    "mutation:runPeriodicTaskNow": probe_run_periodic_task_now,
    "mutation:setPeriodicTaskEnabled": probe_set_periodic_task_enabled,
    "mutation:testAlertSink": probe_test_alert_sink,
    "subscription:alerts": probe_alerts_subscription,
    "subscription:metrics": probe_metrics,
    "subscription:workerEvents": probe_worker_events,
    "query:task": probe_task,
    "query:tasks": probe_tasks,
    "query:taskStats": probe_task_stats,
    "mutation:revokeTask": probe_revoke_task,
    "mutation:retryTask": probe_retry_task,
    "mutation:revokeTasks": _bulk("revokeTasks"),
    "mutation:retryTasks": _bulk("retryTasks"),
    "subscription:taskEvents": probe_task_events,
}


def scoped_fields() -> set[str]:
    return set(task_touching_fields()) | set(cluster_data_fields())


def test_every_field_touching_tasks_or_cluster_data_has_a_probe() -> None:
    assert scoped_fields() == set(PROBES), cluster_data_fields()


@pytest.fixture(scope="module")
def waiting_messages(celery_client: Any, world: World) -> None:
    """An in-scope and an out-of-scope task waiting in the scope's unconsumed queue."""
    for name in ("ai.analyse", "billing.charge"):
        celery_client.send_task(name, queue=BACKLOG)


@pytest.mark.parametrize("field", sorted(scoped_fields()))
async def test_a_scoped_admin_only_reaches_what_is_in_scope(
    world: World, http: httpx.AsyncClient, waiting_messages: None, field: str
) -> None:
    await PROBES[field](world, http)


async def test_me_shows_the_scope_and_denials_are_audited(
    world: World, http: httpx.AsyncClient
) -> None:
    me = await gql(
        http,
        world.api.graphql_url,
        "{ me { subject role scoped scopes { binding queues taskNames workers } } }",
        token=world.scoped,
    )
    assert me.ok()["me"] == {
        "subject": SCOPED,
        "role": "admin",
        "scoped": True,
        "scopes": [
            {
                "binding": "ai-team",
                "queues": list(SCOPE_QUEUES),
                "taskNames": ["ai.*", "src.tasks.demo.add"],
                "workers": ["ai_worker*"],
            }
        ],
    }
    revoke = "mutation($id: String!) { revokeTask(id: $id) { ok } }"
    await gql(http, world.api.graphql_url, revoke, {"id": world.outside}, token=world.scoped)
    async with world.db.session("test") as session:
        row = (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.action == "revokeTask", AuditLog.target == world.outside)
                .order_by(AuditLog.id.desc())
                .limit(1)
            )
        ).one()
    assert (row.outcome, row.subject, row.error_code) == ("denied", SCOPED, "FORBIDDEN")
    assert row.error == f"outside your scope: task {world.outside}"
    print("scoped denial audit row:", {c.name: getattr(row, c.name) for c in row.__table__.c})


@pytest.mark.parametrize(
    ("document", "allowed"),
    [
        ('mutation { purgeQueue(name: "billing", confirm: true) { ok } }', False),
        ('mutation { poolGrow(n: 1, workers: ["beta@tests"]) { ok } }', False),
        ("mutation { poolGrow(n: 1) { ok } }", False),  # every worker
        ("mutation { stopMonitoring { ok } }", False),  # names nothing in scope
        ('mutation { setRateLimit(taskName: "billing.charge", rate: "1/s") { ok } }', False),
    ],
)
async def test_scoped_actions_outside_the_scope_are_forbidden(
    world: World, http: httpx.AsyncClient, document: str, allowed: bool
) -> None:
    response = await gql(http, world.api.graphql_url, document, token=world.scoped)
    assert response.codes == ["FORBIDDEN"], response


async def test_an_unscoped_admin_sees_the_workers(
    world: World, http: httpx.AsyncClient, workers: list[object]
) -> None:
    everyone = await world.ask(http, "{ workers { hostname } }", world.admin)
    assert {w["hostname"] for w in everyone.ok()["workers"]} >= {"alpha@tests", "beta@tests"}
    await probe_workers(world, http)  # and the scoped admin none of them


async def test_relatives_outside_the_scope_stay_hidden(world: World) -> None:
    """An in-scope task's parent and children are tasks too: out of scope, they are not shown."""
    parent, child = f"in-{uuid.uuid4().hex}", f"in-{uuid.uuid4().hex}"
    hidden_child, hidden_parent = f"out-{uuid.uuid4().hex}", f"out-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    async with world.db.session("test") as session:
        for task_id, name, queue, parent_id in (
            (parent, "ai.analyse", "ai_analysis", None),
            (hidden_child, "billing.charge", "billing", parent),
            (hidden_parent, "billing.charge", "billing", None),
            (child, "ai.analyse", "ai_analysis", hidden_parent),
        ):
            session.add(
                TaskRecord(
                    task_id=task_id, name=name, queue=queue, parent_id=parent_id,
                    state="SUCCESS", seen_at=now, received_at=now, finished_at=now,
                )
            )  # fmt: skip
    document = "query($id: String!) { task(id: $id) { id parent { id } children { id } } }"
    async with httpx.AsyncClient(timeout=30) as http:
        above = await gql(http, world.api.graphql_url, document, {"id": parent}, token=world.scoped)
        below = await gql(http, world.api.graphql_url, document, {"id": child}, token=world.scoped)
    assert above.ok()["task"] == {"id": parent, "parent": None, "children": []}
    assert below.ok()["task"] == {"id": child, "parent": None, "children": []}


def test_a_selection_is_covered_only_when_wholly_in_one_rule() -> None:
    scope = AccessScope(
        (ScopeRule("a", ("ai_analysis",), ("ai.*",)), ScopeRule("b", ("health",), ()))
    )
    assert scope.covers(("ai_analysis",), ("ai.analyse", "ai.embed"))
    assert not scope.covers(("ai_analysis",), ())  # every name of the queue: not only ai.*
    assert not scope.covers((), ("ai.analyse",))  # every queue
    assert not scope.covers(("ai_analysis", "health"), ("ai.analyse",))  # across two rules
    assert scope.covers(("health",), ())


async def test_scoped_events_remember_a_bounded_number_of_verdicts() -> None:
    scope = AccessScope((ScopeRule("a", ("ai_analysis",), ("ai.*",)),))
    events = ScopedEvents(scope, tasks=None)  # type: ignore[arg-type]  # no lookups here
    for n in range(MAX_REMEMBERED + 10):
        assert events.verdict({"task_id": f"t{n}", "queue": "ai_analysis", "name": "ai.x"})
    assert events.verdict({"task_id": "t0"}) is None  # forgotten: looked up again
    assert events.verdict({"task_id": f"t{MAX_REMEMBERED + 9}"}) is True
    assert events.verdict({"task_id": "u", "queue": "billing", "name": "billing.x"}) is False
    assert events.verdict({"task_id": "u"}) is False
