"""Database plumbing for the task store: error mapping and per-statement time limits.

A query that cannot reach the database is DATABASE_UNAVAILABLE; one that runs past its limit is
TIMEOUT. PostgreSQL enforces the limit itself (`SET LOCAL statement_timeout`); SQLite is
interrupted from the event loop when the limit passes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.errors import AppError, DatabaseUnavailable, ErrorCode


class QueryTimeout(AppError):
    code = ErrorCode.TIMEOUT


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        name = type(orig).__name__ if orig is not None else ""
        message = str(orig).lower()
        # asyncpg: QueryCanceledError (SQLSTATE 57014); sqlite3: "interrupted".
        return (
            "QueryCanceled" in name
            or "57014" in str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", ""))
            or "canceling statement due to statement timeout" in message
            or message.strip() == "interrupted"
        )
    return False


@contextlib.contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turn driver and connection failures into DATABASE_UNAVAILABLE (or TIMEOUT)."""
    try:
        yield
    except AppError:
        raise
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        if _is_timeout(exc):
            raise QueryTimeout(f"{what}: the database did not answer in time") from exc
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DatabaseUnavailable(f"{what}: database unavailable ({first_line})") from exc


@contextlib.asynccontextmanager
async def time_limit(session: AsyncSession, seconds: float) -> AsyncIterator[None]:
    """Bound the statements run inside (the session must be in a transaction on PostgreSQL)."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
        yield
        return
    raw: Any = await connection.get_raw_connection()
    driver = raw.driver_connection
    active = True

    async def interrupt() -> None:
        if active:  # never interrupt a later user of this pooled connection
            await driver.interrupt()

    handle = asyncio.get_running_loop().call_later(
        seconds, lambda: asyncio.ensure_future(interrupt())
    )
    try:
        yield
    finally:
        active = False
        handle.cancel()


@contextlib.asynccontextmanager
async def bounded_session(
    sessions: async_sessionmaker[AsyncSession], seconds: float, what: str
) -> AsyncIterator[AsyncSession]:
    """A session in a transaction whose statements are bounded by `seconds`; failures mapped."""
    with database_errors(what):
        async with sessions() as session, session.begin(), time_limit(session, seconds):
            yield session


__all__ = ["QueryTimeout", "bounded_session", "database_errors", "time_limit"]
