"""The one door to the database: every query of celery-admin opens its session here.

`Database.session(what, seconds=...)` is a session in a transaction whose statements are bounded
in time, and whose failures come out as the shared codes: a database that cannot be reached is
DATABASE_UNAVAILABLE, a statement past its limit is TIMEOUT (`what` names the work in the
message). PostgreSQL enforces the limit itself (`SET LOCAL statement_timeout`); SQLite is
interrupted from the event loop when the limit passes. Callers that must survive a database
outage (the audit trail, the configuration cache, the task lookup) catch `AppError`, one type,
instead of each knowing the driver's exceptions.

The event collector writes through its own engine use (src/collector/store.py): a batched upsert
path with its own retry rules.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from src.db.engine import create_engine
from src.errors import AppError, DatabaseUnavailable, ErrorCode

DEFAULT_SECONDS = 10.0


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


class Database:
    """Sessions for every reader and writer of the database; see the module docstring."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    @contextlib.asynccontextmanager
    async def session(
        self, what: str, *, seconds: float = DEFAULT_SECONDS
    ) -> AsyncIterator[AsyncSession]:
        """A session in a transaction (committed when the block ends without an error) whose
        statements are bounded by `seconds`; failures mapped as the module docstring says."""
        with database_errors(what):
            async with self._sessions() as session, session.begin(), time_limit(session, seconds):
                yield session

    async def ping(self) -> None:
        """Raise (DATABASE_UNAVAILABLE) when the database does not answer."""
        async with self.session("ping", seconds=2.0) as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


__all__ = ["DEFAULT_SECONDS", "Database", "QueryTimeout", "database_errors", "time_limit"]
