"""PROVISIONAL (feat/control): the TaskFilter compiled to SQL clauses on TaskRecord.

Only ids, states, names, queues and workers are compiled here; feat/taskquery owns the full
version of this module (same function name and signature) and replaces this file on merge.
"""

from __future__ import annotations

from sqlalchemy.sql import ColumnElement

from src.db.models import TaskRecord
from src.task_filter import TaskFilter


def filter_clauses(f: TaskFilter, dialect: str | None = None) -> list[ColumnElement[bool]]:
    """WHERE clauses for `f` (the dialect is unused in this provisional version)."""
    where: list[ColumnElement[bool]] = []
    if f.ids:
        where.append(TaskRecord.task_id.in_(f.ids))
    if f.states:
        where.append(TaskRecord.state.in_([s.value for s in f.states]))
    if f.names:
        where.append(TaskRecord.name.in_(f.names))
    if f.queues:
        where.append(TaskRecord.queue.in_(f.queues))
    if f.workers:
        where.append(TaskRecord.worker.in_(f.workers))
    return where


__all__ = ["filter_clauses"]
