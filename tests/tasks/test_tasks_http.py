"""End to end over real HTTP: the session API serves tasks, task and taskStats from its database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event

from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from tests.support.graphql import gql
from tests.support.servers import ApiServer
from tests.tasks.data import insert_rows, rows

PAGE = """
query($f: TaskFilterInput, $after: String, $first: Int) {
  tasks(filter: $f, first: $first, after: $after, orderBy: RUNTIME_DESC) {
    totalCount
    edges { cursor node { id name state runtime finishedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

ONE = """
query($id: String!) {
  task(id: $id) {
    id name state queue worker args kwargs result exception traceback retries eta expires
    sentAt receivedAt startedAt succeededAt failedAt revokedAt finishedAt runtime seenAt
    parentId rootId parent { id } children { id }
  }
}
"""

STATS = """
query($f: TaskFilterInput) {
  taskStats(filter: $f, window: 3600) {
    total byState { key count } byName { key count } finished
    runtime { samples p50 p90 p99 }
  }
}
"""


@pytest.fixture
async def recorded(api: ApiServer) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """30 rows under a name of their own, first seen in the last few minutes."""
    name = f"http.{uuid.uuid4().hex[:8]}"
    prefix = f"h{uuid.uuid4().hex[:6]}-"
    data = rows(30, base=datetime.now(UTC) - timedelta(minutes=5), prefix=prefix)
    for r in data:
        r["name"] = name
    engine = create_engine(api.settings.database_url)
    await insert_rows(engine, data)
    try:
        yield name, data
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(TaskRecord).where(TaskRecord.name == name))
        await engine.dispose()


async def test_tasks_task_and_stats_over_http(
    api: ApiServer,
    http: httpx.AsyncClient,
    viewer_token: str,
    recorded: tuple[str, list[dict[str, Any]]],
) -> None:
    name, data = recorded
    f = {"names": [name], "states": ["SUCCESS", "FAILURE"]}
    chosen = [r for r in data if r["state"] in ("SUCCESS", "FAILURE")]
    valued = sorted(
        (r for r in chosen if r["runtime"] is not None),
        key=lambda r: (r["runtime"], r["task_id"]),
        reverse=True,
    )
    nulls = sorted((r for r in chosen if r["runtime"] is None), key=lambda r: r["task_id"])[::-1]
    want = [r["task_id"] for r in valued + nulls]

    got: list[str] = []
    after = None
    while True:
        body = await gql(
            http, api.graphql_url, PAGE, {"f": f, "after": after, "first": 3}, token=viewer_token
        )
        connection = body.ok()["tasks"]
        assert connection["totalCount"] == len(chosen)
        got += [e["node"]["id"] for e in connection["edges"]]
        info = connection["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["endCursor"] == connection["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert got == want

    child = next(r for r in data if r["parent_id"])
    one = (await gql(http, api.graphql_url, ONE, {"id": child["task_id"]}, token=viewer_token)).ok()
    task = one["task"]
    assert task["name"] == name and task["state"] == child["state"]
    assert task["parent"] == {"id": child["parent_id"]}
    assert datetime.fromisoformat(task["seenAt"]) == child["seen_at"]
    parent = (
        await gql(http, api.graphql_url, ONE, {"id": child["parent_id"]}, token=viewer_token)
    ).ok()
    siblings = [r["task_id"] for r in data if r["parent_id"] == child["parent_id"]]
    assert sorted(c["id"] for c in parent["task"]["children"]) == sorted(siblings)

    stats = (
        await gql(http, api.graphql_url, STATS, {"f": {"names": [name]}}, token=viewer_token)
    ).ok()
    figures = stats["taskStats"]
    assert figures["total"] == len(data)
    assert {c["key"]: c["count"] for c in figures["byState"]} == {
        s: sum(1 for r in data if r["state"] == s) for s in {r["state"] for r in data}
    }
    runtimes = [r["runtime"] for r in data if r["runtime"] is not None]
    assert figures["runtime"]["samples"] == len(runtimes)
    assert min(runtimes) <= figures["runtime"]["p50"] <= max(runtimes)


async def test_task_query_errors_and_guards(
    api: ApiServer, http: httpx.AsyncClient, viewer_token: str
) -> None:
    too_many = await gql(http, api.graphql_url, PAGE, {"first": 201}, token=viewer_token)
    assert too_many.codes == ["BAD_INPUT"] and "at most 200" in too_many.errors[0]["message"]
    bad_cursor = await gql(http, api.graphql_url, PAGE, {"after": "nonsense"}, token=viewer_token)
    assert bad_cursor.codes == ["BAD_INPUT"]
    anonymous = await gql(http, api.graphql_url, PAGE, {"first": 1})
    assert anonymous.codes == ["UNAUTHENTICATED"]
    missing = await gql(http, api.graphql_url, ONE, {"id": "no-such-task"}, token=viewer_token)
    assert missing.ok()["task"] is None
    assert "task-retention" in [name for name, _ in api.runtime.background.leader_jobs]


async def test_total_count_is_counted_only_when_selected(
    api: ApiServer,
    http: httpx.AsyncClient,
    viewer_token: str,
    recorded: tuple[str, list[dict[str, Any]]],
) -> None:
    name, data = recorded
    statements: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if name in str(parameters):  # only this test's queries (other loops share the engine)
            statements.append(statement.lower())

    engine = api.runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        without = "query($f: TaskFilterInput) { tasks(filter: $f, first: 2) { edges { cursor } } }"
        body = await gql(
            http, api.graphql_url, without, {"f": {"names": [name]}}, token=viewer_token
        )
        assert len(body.ok()["tasks"]["edges"]) == 2
        assert statements and not any("count(" in s for s in statements)
        statements.clear()
        with_count = "query($f: TaskFilterInput) { tasks(filter: $f, first: 2) { totalCount } }"
        body = await gql(
            http, api.graphql_url, with_count, {"f": {"names": [name]}}, token=viewer_token
        )
        assert body.ok()["tasks"]["totalCount"] == len(data)
        assert any("count(" in s for s in statements)
    finally:
        event.remove(engine, "before_cursor_execute", spy)


async def test_a_page_of_families_is_three_queries(
    api: ApiServer,
    http: httpx.AsyncClient,
    viewer_token: str,
    recorded: tuple[str, list[dict[str, Any]]],
) -> None:
    name, data = recorded
    statements: list[str] = []

    ours = {name} | {r["task_id"] for r in data}

    def spy(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        # Only this request's reads: the sampler and other loops share the engine.
        mentioned = str(parameters)
        if "celery_task_results_ext" in statement and any(key in mentioned for key in ours):
            statements.append(statement)

    query = """
    query($f: TaskFilterInput) {
      tasks(filter: $f, first: 30, orderBy: SEEN_ASC) {
        edges { node { id parent { id name } children(first: 2) { id } } }
      }
    }"""
    engine = api.runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        body = await gql(http, api.graphql_url, query, {"f": {"names": [name]}}, token=viewer_token)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    nodes = [e["node"] for e in body.ok()["tasks"]["edges"]]
    assert [n["id"] for n in nodes] == [r["task_id"] for r in data]
    for node, row in zip(nodes, data, strict=True):
        assert (node["parent"] or {}).get("id") == row["parent_id"]
        kids = sorted(
            (r for r in data if r["parent_id"] == row["task_id"]), key=lambda r: r["task_id"]
        )
        assert [c["id"] for c in node["children"]] == [r["task_id"] for r in kids[:2]]
    assert len(statements) <= 4, statements  # the page, the parents, the children (+1 spare)
