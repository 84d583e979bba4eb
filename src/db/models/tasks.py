"""`celery_task_results_ext`: one row per task, merged from events and results.

Indexes follow the task queries (src/task_store): every listing order is a btree on
`(sort column, task_id)` so keyset pages are index range scans, and the common filters lead a
`(..., seen_at, task_id)` index. On PostgreSQL the migration adds a pg_trgm GIN index on
`SEARCH_SQL` (the text-search expression); it is not declared here because SQLite has no GIN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base, Json, UtcDateTime


class TaskRecord(Base):
    __tablename__ = "celery_task_results_ext"

    task_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str | None] = mapped_column(String(255))
    exchange: Mapped[str | None] = mapped_column(String(255))
    routing_key: Mapped[str | None] = mapped_column(String(255))
    worker: Mapped[str | None] = mapped_column(String(255))
    # What the events carry (reprs, possibly truncated) and, when known, the exact values.
    args: Mapped[str | None] = mapped_column(Text)
    kwargs: Mapped[str | None] = mapped_column(Text)
    args_json: Mapped[Any | None] = mapped_column(Json)
    kwargs_json: Mapped[Any | None] = mapped_column(Json)
    # What args_json/kwargs_json hold (celery_admin_events.capture): exact, redacted, too_large,
    # opaque; NULL when no worker-side extension recorded the call. The reason in args_note.
    args_status: Mapped[str | None] = mapped_column(String(16))
    args_note: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[str | None] = mapped_column(Text)
    exception: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    eta: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retried_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    runtime: Mapped[float | None] = mapped_column(Float)
    parent_id: Mapped[str | None] = mapped_column(String(255))
    root_id: Mapped[str | None] = mapped_column(String(255))
    group_id: Mapped[str | None] = mapped_column(String(255))
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Sort key shared by every listing: when the task was first seen (sent or received).
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_tasks_seen", "seen_at", "task_id"),
        Index("ix_tasks_state_seen", "state", "seen_at", "task_id"),
        Index("ix_tasks_state_name_seen", "state", "name", "seen_at", "task_id"),
        Index("ix_tasks_name_seen", "name", "seen_at", "task_id"),
        Index("ix_tasks_queue_seen", "queue", "seen_at", "task_id"),
        Index("ix_tasks_worker_seen", "worker", "seen_at", "task_id"),
        Index("ix_tasks_received", "received_at", "task_id"),
        Index("ix_tasks_started", "started_at", "task_id"),
        Index("ix_tasks_finished", "finished_at", "task_id"),
        Index("ix_tasks_runtime", "runtime", "task_id"),
        Index("ix_tasks_parent", "parent_id", "seen_at", "task_id"),
        Index("ix_tasks_root", "root_id"),
    )


# The text-search expression (args, kwargs, result, exception), as SQL text so that PostgreSQL
# matches it against the trigram index of the same text in the migration. Keep them identical.
SEARCH_SQL = (
    "(coalesce(args, '') || ' ' || coalesce(kwargs, '') || ' ' || coalesce(result, '')"
    " || ' ' || coalesce(exception, ''))"
)
SEARCH_INDEX = "ix_tasks_search_trgm"


__all__ = ["SEARCH_INDEX", "SEARCH_SQL", "TaskRecord"]
