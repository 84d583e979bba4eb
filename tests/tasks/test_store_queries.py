"""Filters, orders and keyset pages of the task store, checked against the rows inserted, on
PostgreSQL and SQLite."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from src.access_scope import AccessScope, ScopeRule
from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from src.db.session import Database, QueryTimeout
from src.errors import BadInput, DatabaseUnavailable
from src.task_filter import TaskFilter, TaskState, TimeRange
from src.task_store import query as query_module
from src.task_store.filters import filter_clauses
from src.task_store.ordering import TaskOrder, TaskOrderKey, encode_cursor
from src.task_store.query import MAX_PAGE_SIZE, TaskStore
from tests.tasks.conftest import Loaded
from tests.tasks.data import BASE, insert_rows, rows

FILTERS: dict[str, TaskFilter] = {
    "ids": TaskFilter(ids=("t0003", "t0050", "nope")),
    "states": TaskFilter(states=(TaskState.FAILURE, TaskState.RETRY)),
    "names": TaskFilter(names=("app.add",)),
    "queues": TaskFilter(queues=("health", "maintenance")),
    "workers": TaskFilter(workers=("beta@tests",)),
    "received": TaskFilter(
        received=TimeRange(after=BASE + timedelta(seconds=70), before=BASE + timedelta(seconds=140))
    ),
    "received_after": TaskFilter(received=TimeRange(after=BASE + timedelta(seconds=200))),
    "started": TaskFilter(started=TimeRange(before=BASE + timedelta(seconds=100))),
    "finished": TaskFilter(finished=TimeRange(after=BASE + timedelta(seconds=50))),
    "runtime": TaskFilter(runtime_min=1.0, runtime_max=2.25),
    "runtime_min": TaskFilter(runtime_min=3.0),
    "retries": TaskFilter(retries_min=1, retries_max=2),
    "retries_max": TaskFilter(retries_max=0),
    "parent": TaskFilter(parent_id="t0002"),
    "root": TaskFilter(root_id="t0000"),
    "text_args": TaskFilter(text="item_3"),  # case-insensitive; '_' is not a wildcard
    "text_percent": TaskFilter(text="100%"),
    "text_kwargs": TaskFilter(text="'u5'"),
    "text_result": TaskFilter(text="OK 1"),
    "text_exception": TaskFilter(text="keyerror"),
    "combined": TaskFilter(
        states=(TaskState.SUCCESS,), names=("app.add", "app.fetch"), runtime_max=2.5
    ),
    # A scoped caller's limit (issue 12): a union of rules, name patterns with * and ?.
    "scope_queue_and_pattern": TaskFilter(
        scope=AccessScope((ScopeRule("ai", ("ai_analysis",), ("app.*d*",)),))
    ),
    "scope_union": TaskFilter(
        scope=AccessScope((ScopeRule("a", ("health",)), ScopeRule("b", (), ("app.f?tch", "app_%"))))
    ),
    "scope_with_filter": TaskFilter(
        states=(TaskState.FAILURE,), scope=AccessScope((ScopeRule("m", ("maintenance",)),))
    ),
}


async def everything(store: TaskStore, f: TaskFilter, order: TaskOrder, size: int) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    for _ in range(1000):
        page = await store.page(f, order=order, first=size, after=after)
        ids += [e.record.task_id for e in page.edges]
        assert len(page.edges) <= size
        if not page.has_next_page:
            return ids
        assert len(page.edges) == size
        after = page.end_cursor
    raise AssertionError("pagination did not end")


def expected_order(data: list[dict[str, Any]], order: TaskOrder) -> list[str]:
    column = order.column.key
    valued = [r for r in data if r[column] is not None]
    nulls = [r for r in data if r[column] is None]
    valued.sort(key=lambda r: (r[column], r["task_id"]), reverse=order.descending)
    nulls.sort(key=lambda r: r["task_id"], reverse=order.descending)
    return [r["task_id"] for r in valued + nulls]


@pytest.mark.parametrize("name", sorted(FILTERS))
async def test_each_filter_selects_what_matches_selects(loaded: Loaded, name: str) -> None:
    f = FILTERS[name]
    want = {r["task_id"] for r in loaded.rows if f.matches(r)}
    assert want, f"filter {name} matches no row: the test would prove nothing"
    assert len(want) < len(loaded.rows)
    got = await everything(loaded.store, f, TaskOrder(), MAX_PAGE_SIZE)
    assert len(got) == len(set(got))
    assert set(got) == want
    assert await loaded.store.count(f) == len(want)


async def test_wildcards_in_text_are_literal(loaded: Loaded) -> None:
    got = await everything(loaded.store, TaskFilter(text="item%"), TaskOrder(), 50)
    assert got == []  # no row holds the literal text "item%"
    got = await everything(loaded.store, TaskFilter(text="0%'"), TaskOrder(), 50)
    assert got and all(r.startswith("t") for r in got)


@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
@pytest.mark.parametrize("key", list(TaskOrderKey), ids=lambda k: k.value)
async def test_every_order_pages_through_exactly(
    loaded: Loaded, key: TaskOrderKey, descending: bool
) -> None:
    order = TaskOrder(key, descending)
    want = expected_order(loaded.rows, order)
    assert await everything(loaded.store, TaskFilter(), order, 7) == want
    # the same order with a filter, in pages of one
    f = TaskFilter(states=(TaskState.SUCCESS, TaskState.STARTED))
    filtered = [t for t in want if f.matches(next(r for r in loaded.rows if r["task_id"] == t))]
    assert await everything(loaded.store, f, order, 1) == filtered


async def test_keyset_is_stable_when_rows_arrive_between_pages(loaded: Loaded) -> None:
    store = loaded.store
    f = TaskFilter(names=("stable.task",))
    original = rows(30, seed=1, base=BASE + timedelta(days=1), prefix="s")
    for r in original:
        r["name"] = "stable.task"
    await insert_rows(store.db.engine, original)
    try:
        order = TaskOrder(TaskOrderKey.SEEN, descending=True)
        first = await store.page(f, order=order, first=10)
        seen = [e.record.task_id for e in first.edges]
        # newer rows (would shift an offset by 15) and older rows (belong to later pages)
        newer = rows(15, seed=2, base=BASE + timedelta(days=2), prefix="n")
        older = rows(5, seed=3, base=BASE, prefix="o")
        for r in newer + older:
            r["name"] = "stable.task"
        await insert_rows(store.db.engine, newer + older)
        after = first.end_cursor
        while after:
            page = await store.page(f, order=order, first=10, after=after)
            seen += [e.record.task_id for e in page.edges]
            after = page.end_cursor if page.has_next_page else None
        want = expected_order(original, order) + expected_order(older, order)
        assert seen == want
        assert not set(seen) & {r["task_id"] for r in newer}
    finally:
        async with store.db.engine.begin() as conn:
            await conn.execute(delete(TaskRecord).where(TaskRecord.name == "stable.task"))


async def test_page_size_limits(loaded: Loaded) -> None:
    with pytest.raises(BadInput, match="at most 200"):
        await loaded.store.page(TaskFilter(), first=MAX_PAGE_SIZE + 1)
    with pytest.raises(BadInput):
        await loaded.store.page(TaskFilter(), first=-1)
    page = await loaded.store.page(TaskFilter(), first=MAX_PAGE_SIZE)
    assert len(page.edges) == len(loaded.rows)  # 120 < 200: all of them
    assert page.has_next_page is False
    empty = await loaded.store.page(TaskFilter(), first=0)
    assert empty.edges == [] and empty.end_cursor is None


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "", "eyJ2IjoxfQ", encode_cursor(TaskOrder(TaskOrderKey.RUNTIME), 1.0, "t0001")],
    ids=["not-base64", "empty-after-strip", "missing-fields", "other-order"],
)
async def test_bad_cursors_are_bad_input(loaded: Loaded, cursor: str) -> None:
    if cursor == "":
        cursor = "e30"  # base64 of {}
    with pytest.raises(BadInput) as caught:
        await loaded.store.page(TaskFilter(), order=TaskOrder(), first=5, after=cursor)
    assert caught.value.field == "after"


async def test_get_with_parent_and_children(loaded: Loaded) -> None:
    store = loaded.store
    task = await store.get("t0021")
    assert task is not None and task.parent_id == "t0002" and task.root_id == "t0000"
    children = await store.children("t0002")
    want = sorted(
        (r for r in loaded.rows if r["parent_id"] == "t0002"),
        key=lambda r: (r["seen_at"], r["task_id"]),
    )
    assert [c.task_id for c in children] == [r["task_id"] for r in want]
    assert len(children) == 9
    assert [c.task_id for c in await store.children("t0002", limit=2)] == [
        r["task_id"] for r in want[:2]
    ]
    assert await store.get("no-such-task") is None
    with pytest.raises(BadInput):
        await store.children("t0002", limit=10_000)


async def test_database_down_is_database_unavailable(loaded: Loaded, tmp_path: Path) -> None:
    # nothing listens on port 9; a directory is no SQLite file
    url = (
        "postgresql://postgres@127.0.0.1:9/none"
        if loaded.kind == "postgresql"
        else f"sqlite:///{tmp_path}"
    )
    engine = create_engine(url)
    try:
        store = TaskStore(Database(engine))
        with pytest.raises(DatabaseUnavailable):
            await store.page(TaskFilter(), first=5)
        with pytest.raises(DatabaseUnavailable):
            await store.count(TaskFilter())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("task_db_url", ["postgresql"], indirect=True)  # pg_trgm is PostgreSQL's
async def test_text_search_uses_the_trigram_index_on_postgresql(loaded: Loaded) -> None:
    stmt = select(TaskRecord.task_id).where(
        *filter_clauses(TaskFilter(text="item_3"), "postgresql")
    )
    sql = stmt.compile(loaded.store.db.engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with loaded.store.db.engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(str(r[0]) for r in await conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_tasks_search_trgm" in plan, plan


async def test_statements_past_their_time_limit_are_timeouts(loaded: Loaded) -> None:
    slow = (
        "SELECT pg_sleep(3)"
        if loaded.kind == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        async with loaded.store.db.session("slow", seconds=0.3) as session:
            await session.execute(text(slow))
    assert time.monotonic() - started < 2.5
    # the pool's connections still work afterwards
    assert await loaded.store.count(TaskFilter(ids=("t0001",))) == 1


@pytest.mark.parametrize("probe_rows", [3, 25, 5000])
@pytest.mark.parametrize("key", [TaskOrderKey.SEEN, TaskOrderKey.FINISHED], ids=lambda k: k.value)
async def test_text_pages_agree_whichever_plan_answers(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch, probe_rows: int, key: TaskOrderKey
) -> None:
    """On PostgreSQL a text page first tests the order's first rows, then asks the trigram
    index; the pages must be the same whichever answers."""
    monkeypatch.setattr(query_module, "TEXT_PROBE_ROWS", probe_rows)
    for needle in ("'u1'", "mixed", "ok 1"):
        f = TaskFilter(text=needle)
        order = TaskOrder(key, descending=True)
        want = [t for t in expected_order(loaded.rows, order) if f.matches(_row(loaded, t))]
        assert want
        assert await everything(loaded.store, f, order, 4) == want


def _row(loaded: Loaded, task_id: str) -> dict[str, Any]:
    return next(r for r in loaded.rows if r["task_id"] == task_id)
