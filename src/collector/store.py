"""Batched upserts of merged task rows into `celery_task_results_ext`.

One statement per batch. On PostgreSQL the rows travel as one array per column through asyncpg
(`INSERT .. SELECT FROM unnest(...)`), far faster than row-by-row executemany; on SQLite they go
through `executemany`. Either way `ON CONFLICT DO UPDATE` applies the same rules as the in-memory
merge (see `merge.py`): the state only moves to a higher `(rank, timestamp)`, so a terminal state
in the database is never overwritten by an earlier or lesser event, and replaying a batch is
harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from src.collector.merge import COLUMNS, FIRST_COLUMNS, LATEST_COLUMNS, LOST, PENDING
from src.db.models.tasks import TaskRecord

TABLE = TaskRecord.__tablename__
STATEMENT_ROWS = 4000
_ISO = ("eta", "expires")  # ISO strings in events
_FLOAT = ("runtime",)
_INT = ("retries",)
_JSON = ("args_json", "kwargs_json")  # JSON texts from the worker-side extension
_EPOCH = tuple(c for c in COLUMNS if c.endswith("_at"))
# Every other column is text: derived, so a column added to merge.COLUMNS is typed here too.
_TEXT = tuple(c for c in COLUMNS if c not in (*_ISO, *_FLOAT, *_INT, *_EPOCH))
_WINNER = ("worker", "result", "exception", "traceback", "runtime")
_FILL = tuple(
    c
    for c in COLUMNS
    if c not in _WINNER
    and c not in FIRST_COLUMNS
    and c not in LATEST_COLUMNS
    and c not in ("task_id", "state", "last_event_at", "retries")
)


def _rank(col: str) -> str:
    return (
        f"(CASE WHEN {col} IN ('SUCCESS','FAILURE','REVOKED','REJECTED') THEN 2 "
        f"WHEN {col} = 'PENDING' THEN 0 ELSE 1 END)"
    )


def _set_clause(*, least: str, greatest: str, never: str) -> str:
    wins = (
        f"({_rank('excluded.state')}, excluded.last_event_at) >= "
        f"({_rank('t.state')}, COALESCE(t.last_event_at, {never}))"
    )
    parts = [
        f"state = CASE WHEN {wins} THEN excluded.state ELSE t.state END",
        f"last_event_at = CASE WHEN {wins} THEN excluded.last_event_at ELSE t.last_event_at END",
        f"retries = {greatest.format(a='t.retries', b='excluded.retries')}",
    ]
    for col in _WINNER:
        parts.append(
            f"{col} = CASE WHEN {wins} THEN COALESCE(excluded.{col}, t.{col}) "
            f"ELSE COALESCE(t.{col}, excluded.{col}) END"
        )
    for col in FIRST_COLUMNS:
        parts.append(f"{col} = {least.format(a=f't.{col}', b=f'excluded.{col}')}")
    for col in LATEST_COLUMNS:
        parts.append(f"{col} = {greatest.format(a=f't.{col}', b=f'excluded.{col}')}")
    for col in _FILL:
        parts.append(f"{col} = COALESCE(t.{col}, excluded.{col})")
    return ",\n    ".join(parts)


def _postgres_sql() -> str:
    pg_types = {c: "text" for c in _TEXT + _ISO} | {c: "float8" for c in _EPOCH + _FLOAT}
    pg_types |= {c: "int4" for c in _INT}
    unnest = ", ".join(f"${i}::{pg_types[c]}[]" for i, c in enumerate(COLUMNS, 1))
    select = []
    for col in COLUMNS:
        if col in _EPOCH:
            select.append(f"to_timestamp(u.{col})")
        elif col in _ISO:
            select.append(f"u.{col}::timestamptz")
        elif col in _JSON:
            select.append(f"u.{col}::jsonb")
        else:
            select.append(f"u.{col}")
    sets = _set_clause(
        least="LEAST({a}, {b})", greatest="GREATEST({a}, {b})", never="'-infinity'::timestamptz"
    )
    return (
        f"INSERT INTO {TABLE} AS t ({', '.join(COLUMNS)})\n"
        f"SELECT {', '.join(select)}\n"
        f"FROM unnest({unnest}) AS u({', '.join(COLUMNS)})\n"
        f"ON CONFLICT (task_id) DO UPDATE SET\n    {sets}"
    )


def _sqlite_sql() -> str:
    sets = _set_clause(
        least="COALESCE(MIN({a}, {b}), {a}, {b})",
        greatest="COALESCE(MAX({a}, {b}), {a}, {b})",
        never="''",
    )
    marks = ", ".join("?" for _ in COLUMNS)
    return (
        f"INSERT INTO {TABLE} AS t ({', '.join(COLUMNS)}) VALUES ({marks})\n"
        f"ON CONFLICT (task_id) DO UPDATE SET\n    {sets}"
    )


POSTGRES_UPSERT = _postgres_sql()
SQLITE_UPSERT = _sqlite_sql()


def _sqlite_time(epoch: float | None) -> str | None:
    """The text SQLAlchemy stores for a UTC DateTime on SQLite."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _valid_iso(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return None
    return value


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("state") is None:  # e.g. only a requeued rejection: keep it, ranked lowest
        row["state"] = PENDING
        row["last_event_at"] = row["seen_at"]
    if row.get("queue") is None and row.get("routing_key"):
        row["queue"] = row["routing_key"]
    return row


class TaskStore:
    """Writes merged rows; one instance per collector."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.rows_written = 0

    async def upsert(self, rows: list[dict[str, Any]]) -> None:
        """Write `rows` in statements of at most `STATEMENT_ROWS`, so the memory spent encoding
        a statement stays small however far behind the database is."""
        for start in range(0, len(rows), STATEMENT_ROWS):
            part = [_complete(r) for r in rows[start : start + STATEMENT_ROWS]]
            if self.postgres:
                await self._upsert_postgres(part)
            else:
                await self._upsert_sqlite(part)
            self.rows_written += len(part)

    async def _upsert_postgres(self, rows: list[dict[str, Any]]) -> None:
        arrays: list[list[Any]] = []
        for col in COLUMNS:
            if col in _ISO:
                arrays.append([_valid_iso(r.get(col)) for r in rows])
            else:
                arrays.append([r.get(col) for r in rows])
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.execute(POSTGRES_UPSERT, *arrays)

    async def _upsert_sqlite(self, rows: list[dict[str, Any]]) -> None:
        params = []
        for r in rows:
            values: list[Any] = []
            for col in COLUMNS:
                value = r.get(col)
                if col in _EPOCH:
                    value = _sqlite_time(value)
                elif col in _ISO:
                    value = _sqlite_iso(value)
                values.append(value)
            params.append(tuple(values))
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql(SQLITE_UPSERT, params)

    async def mark_lost(self, worker: str, at: float) -> list[str]:
        """Tasks stored as STARTED on `worker` before `at` become LOST; returns their ids."""
        when = datetime.fromtimestamp(at, UTC)
        stmt = (
            update(TaskRecord)
            .where(
                and_(
                    TaskRecord.worker == worker,
                    TaskRecord.state == "STARTED",
                    TaskRecord.last_event_at <= when,
                )
            )
            .values(state=LOST, last_event_at=when, finished_at=when)
            .returning(TaskRecord.task_id)
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
            return [row[0] for row in result]


__all__ = ["POSTGRES_UPSERT", "SQLITE_UPSERT", "TaskStore"]
