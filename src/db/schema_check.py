"""Start-up check: the database schema is at the migrations' head (SQLite is upgraded for you)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from src.config import ConfigError, Settings
from src.db.engine import is_sqlite
from src.db.migrations import current_revision, head_revision, upgrade_async

log = logging.getLogger(__name__)


async def ensure_schema_current(engine: AsyncEngine, settings: Settings) -> None:
    """Raise ConfigError when the schema is behind; warn (and go on) when the DB is unreachable."""
    try:
        current = await current_revision(engine)
    except Exception as exc:
        log.warning("database unreachable at start-up (%s); serving without it", exc)
        return
    head = head_revision()
    if current == head:
        return
    if is_sqlite(settings.database_url):
        log.info("upgrading the embedded SQLite database from %s to %s", current, head)
        await upgrade_async(settings.database_url)
        return
    raise ConfigError(
        f"database schema is at revision {current or 'none'}, expected {head}: "
        "run `celery-admin db upgrade`"
    )


__all__ = ["ensure_schema_current"]
