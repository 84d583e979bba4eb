"""Task listing by keyset pages, one task with its family, and bounded counts.

A page is at most `MAX_PAGE_SIZE` rows fetched as index range scans (see `ordering`), so its cost
does not depend on how deep the client has paged or how many rows the table holds. Rows inserted
between two pages never shift the next page: the cursor is a position in the order, not an offset.
Every statement runs under a time limit; the database being away is DATABASE_UNAVAILABLE.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from src.db.models.tasks import TaskRecord
from src.db.session import Database
from src.errors import BadInput
from src.task_filter import TaskFilter
from src.task_store.filters import filter_clauses, text_clause
from src.task_store.ordering import Cursor, TaskOrder, decode_cursor, encode_cursor

T = TaskRecord

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_CHILDREN = 200
PAGE_SECONDS = 5.0
COUNT_SECONDS = 2.0
TEXT_PROBE_ROWS = 5000  # see TaskStore._run


@dataclass(frozen=True, slots=True)
class TaskEdge:
    cursor: str
    record: TaskRecord


@dataclass(frozen=True, slots=True)
class TaskBrief:
    """A task as a bulk-selection preview lists it."""

    task_id: str
    name: str | None
    state: str | None
    queue: str | None
    worker: str | None


@dataclass(frozen=True, slots=True)
class TaskPage:
    edges: list[TaskEdge]
    has_next_page: bool
    has_previous_page: bool

    @property
    def start_cursor(self) -> str | None:
        return self.edges[0].cursor if self.edges else None

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1].cursor if self.edges else None


def check_page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise BadInput("first: must not be negative", field="first")
    if first > MAX_PAGE_SIZE:
        raise BadInput(
            f"first: at most {MAX_PAGE_SIZE} tasks per page (asked for {first}); "
            "page on with `after`",
            field="first",
        )
    return first


@dataclass(frozen=True, slots=True)
class Scan:
    """One keyset range scan: its conditions (text search apart), its order as (column key,
    descending) pairs, the text to search, and its row limit."""

    clauses: list[ColumnElement[bool]]
    ordering: tuple[tuple[str, bool], ...]
    text: str | None
    limit: int


def _ordering(entity: Any, keys: tuple[tuple[str, bool], ...]) -> list[Any]:
    return [getattr(entity, k).desc() if desc else getattr(entity, k).asc() for k, desc in keys]


class TaskStore:
    """Reads `celery_task_results_ext` (through the process's one `Database`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect

    def where(self, f: TaskFilter) -> list[ColumnElement[bool]]:
        return filter_clauses(f, self.dialect)

    async def page(
        self,
        f: TaskFilter,
        *,
        order: TaskOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TaskPage:
        """Up to `first` tasks matching `f` in `order`, after the cursor `after`."""
        order = order or TaskOrder()
        size = check_page_size(first)
        cursor = decode_cursor(after, order) if after else None
        records: list[TaskRecord] = []
        if size > 0:
            async with self.db.session("tasks", seconds=PAGE_SECONDS) as session:
                records = await self._fetch(session, f, order, cursor, size + 1)
        has_next = len(records) > size
        records = records[:size]
        edges = [TaskEdge(encode_cursor(order, order.value_of(r), r.task_id), r) for r in records]
        return TaskPage(edges, has_next_page=has_next, has_previous_page=cursor is not None)

    def page_scans(
        self, f: TaskFilter, order: TaskOrder, cursor: Cursor | None, limit: int
    ) -> list[Scan]:
        """The range scans of a page, in order: rows with a sort value (left out when the
        cursor is past them), then rows without one (only for a column that can be null). A
        scan runs only when those before it returned fewer than `limit` rows."""
        column, desc = order.column, order.descending
        base = self.where(replace(f, text=None))
        task_id = T.task_id
        scans: list[Scan] = []
        if cursor is None or cursor.value is not None:
            clauses = list(base)
            if order.nullable:
                clauses.append(column.is_not(None))
            if cursor is not None:
                mark = tuple_(literal(cursor.value, column.type), literal(cursor.task_id))
                key = tuple_(column, task_id)
                clauses.append(key < mark if desc else key > mark)
            scans.append(Scan(clauses, ((column.key, desc), ("task_id", desc)), f.text, limit))
        if order.nullable:
            clauses = [*base, column.is_(None)]
            if cursor is not None and cursor.value is None:
                clauses.append(task_id < cursor.task_id if desc else task_id > cursor.task_id)
            scans.append(Scan(clauses, (("task_id", desc),), f.text, limit))
        return scans

    def statement(self, scan: Scan, limit: int | None = None) -> Select[TaskRecord]:
        """One scan as a single statement (the text condition, if any, included)."""
        clauses = list(scan.clauses)
        if scan.text:
            clauses.append(text_clause(scan.text, self.dialect))
        return (
            select(T)
            .where(*clauses)
            .order_by(*_ordering(T, scan.ordering))
            .limit(scan.limit if limit is None else limit)
        )

    async def _run(self, session: AsyncSession, scan: Scan, limit: int) -> list[TaskRecord]:
        if not (scan.text and self.dialect == "postgresql"):
            return list((await session.scalars(self.statement(scan, limit))).all())
        # Text search on PostgreSQL. Which plan wins depends on how common the text is, and
        # the planner cannot estimate that for '%text%': common text is found fastest by
        # walking the order's index and testing rows, rare text by the trigram index (cost
        # proportional to the matches). So: test only the first TEXT_PROBE_ROWS rows of the
        # order; if they hold a full page, that is the page; otherwise use the trigram index.
        probe = (
            select(T)
            .where(*scan.clauses)
            .order_by(*_ordering(T, scan.ordering))
            .limit(TEXT_PROBE_ROWS)
            .subquery("probe")
        )
        near = aliased(T, probe)
        stmt = (
            select(near)
            .where(text_clause(scan.text, "any", entity=near))
            .order_by(*_ordering(near, scan.ordering))
            .limit(limit)
        )
        found = list((await session.scalars(stmt)).all())
        if len(found) >= limit:
            return found
        if len(scan.text) < 3:  # no trigram to look up: the planner's scan is the best there is
            return list((await session.scalars(self.statement(scan, limit))).all())
        await session.execute(text("SET LOCAL enable_indexscan = off"))
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            return list((await session.scalars(self.statement(scan, limit))).all())
        finally:
            await session.execute(text("SET LOCAL enable_indexscan = on"))
            await session.execute(text("SET LOCAL enable_seqscan = on"))

    async def _fetch(
        self,
        session: AsyncSession,
        f: TaskFilter,
        order: TaskOrder,
        cursor: Cursor | None,
        limit: int,
    ) -> list[TaskRecord]:
        found: list[TaskRecord] = []
        for scan in self.page_scans(f, order, cursor, limit):
            if len(found) >= limit:
                break
            found += await self._run(session, scan, limit - len(found))
        return found

    async def count(self, f: TaskFilter, *, seconds: float = COUNT_SECONDS) -> int:
        """How many tasks match `f`; TIMEOUT when counting takes longer than `seconds`."""
        stmt: Select[Any] = select(func.count()).select_from(T).where(*self.where(f))
        async with self.db.session("totalCount", seconds=seconds) as session:
            return int((await session.execute(stmt)).scalar_one())

    async def briefs(self, f: TaskFilter, *, limit: int) -> list[TaskBrief]:
        """Up to `limit` tasks matching `f`, newest first, as short summaries."""
        stmt = (
            select(T.task_id, T.name, T.state, T.queue, T.worker)
            .where(*self.where(f))
            .order_by(T.seen_at.desc(), T.task_id)
            .limit(limit)
        )
        async with self.db.session("task selection", seconds=PAGE_SECONDS) as session:
            return [TaskBrief(*row) for row in (await session.execute(stmt)).all()]

    async def get(self, task_id: str) -> TaskRecord | None:
        async with self.db.session("task", seconds=PAGE_SECONDS) as session:
            return await session.get(T, task_id)

    async def get_many(self, task_ids: list[str]) -> dict[str, TaskRecord]:
        if not task_ids:
            return {}
        async with self.db.session("tasks", seconds=PAGE_SECONDS) as session:
            rows = await session.scalars(select(T).where(T.task_id.in_(task_ids)))
            return {r.task_id: r for r in rows}

    async def children(self, task_id: str, *, limit: int = 50) -> list[TaskRecord]:
        """Tasks whose parent is `task_id`, oldest first, at most `limit` (<= MAX_CHILDREN)."""
        return (await self.children_of([task_id], limit=limit)).get(task_id, [])

    async def children_of(
        self, parent_ids: list[str], *, limit: int = 50
    ) -> dict[str, list[TaskRecord]]:
        """The children of several tasks in one query: at most `limit` each, oldest first."""
        if limit < 0 or limit > MAX_CHILDREN:
            raise BadInput(f"first: between 0 and {MAX_CHILDREN}", field="first")
        if not parent_ids or limit == 0:
            return {}
        rank = (
            func.row_number()
            .over(partition_by=T.parent_id, order_by=(T.seen_at.asc(), T.task_id.asc()))
            .label("rank")
        )
        ranked = select(T, rank).where(T.parent_id.in_(set(parent_ids))).subquery("ranked")
        child = aliased(T, ranked)
        stmt = (
            select(child)
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.parent_id, ranked.c.seen_at, ranked.c.task_id)
        )
        found: dict[str, list[TaskRecord]] = {}
        async with self.db.session("children", seconds=PAGE_SECONDS) as session:
            for record in (await session.scalars(stmt)).all():
                found.setdefault(record.parent_id or "", []).append(record)
        return found


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_CHILDREN",
    "MAX_PAGE_SIZE",
    "Scan",
    "TaskBrief",
    "TaskEdge",
    "TaskPage",
    "TaskStore",
    "check_page_size",
]
