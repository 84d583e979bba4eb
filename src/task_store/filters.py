"""Compile THE task filter (`src.task_filter.TaskFilter`) to SQL where-clauses.

One function, `filter_clauses`, shared by the `tasks` query, `taskStats` and the `revokeTasks`
preview, so that a filter means the same rows everywhere (and the same as `TaskFilter.matches` on a
live event). Text search is a case-insensitive substring of args, kwargs, result or exception: on
PostgreSQL the concatenated `SEARCH_SQL` expression is matched first (the pg_trgm GIN index serves
it), then each field is rechecked so a match cannot straddle two fields; on SQLite it is LIKE.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, literal_column, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from src.access_scope import AccessScope, like_of
from src.db.models.tasks import SEARCH_SQL, TaskRecord
from src.task_filter import TEXT_FIELDS, TaskFilter, TimeRange

T = TaskRecord


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in `text` escaped (escape character: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _range(column: InstrumentedAttribute[object], bounds: TimeRange) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if bounds.after is not None:
        clauses.append(column >= bounds.after)
    if bounds.before is not None:
        clauses.append(column < bounds.before)
    return clauses


def text_clause(text: str, dialect: str, *, entity: Any = T) -> ColumnElement[bool]:
    """`text` in any of the text fields of `entity` (the table, or an alias of it)."""
    pattern = like_pattern(text)
    per_field = or_(*(getattr(entity, name).ilike(pattern, escape="\\") for name in TEXT_FIELDS))
    if dialect == "postgresql":
        combined = literal_column(SEARCH_SQL).ilike(pattern, escape="\\")
        return and_(combined, per_field)
    return per_field


def filter_clauses(f: TaskFilter, dialect: str) -> list[ColumnElement[bool]]:
    """Where-clauses (to AND together) selecting the rows `f` matches; `dialect` is the engine's
    dialect name ('postgresql' or 'sqlite'). An empty filter gives no clauses."""
    clauses: list[ColumnElement[bool]] = []
    if f.ids:
        clauses.append(T.task_id.in_(f.ids))
    if f.states:
        clauses.append(T.state.in_([str(s) for s in f.states]))
    if f.names:
        clauses.append(T.name.in_(f.names))
    if f.queues:
        clauses.append(T.queue.in_(f.queues))
    if f.workers:
        clauses.append(T.worker.in_(f.workers))
    clauses += _range(T.received_at, f.received)
    clauses += _range(T.started_at, f.started)
    clauses += _range(T.finished_at, f.finished)
    if f.runtime_min is not None:
        clauses.append(T.runtime >= f.runtime_min)
    if f.runtime_max is not None:
        clauses.append(T.runtime <= f.runtime_max)
    if f.retries_min is not None:
        clauses.append(T.retries >= f.retries_min)
    if f.retries_max is not None:
        clauses.append(T.retries <= f.retries_max)
    if f.parent_id:
        clauses.append(T.parent_id == f.parent_id)
    if f.root_id:
        clauses.append(T.root_id == f.root_id)
    if f.text:
        clauses.append(text_clause(f.text, dialect))
    if f.scope is not None:
        clauses.append(scope_clause(f.scope))
    return clauses


def scope_clause(scope: AccessScope) -> ColumnElement[bool]:
    """The rows a scoped caller may see: any rule's queues and name patterns (none: nothing)."""
    per_rule = []
    for rule in scope.rules:
        parts: list[ColumnElement[bool]] = []
        if rule.queues:
            parts.append(T.queue.in_(rule.queues))
        if rule.task_names:
            parts.append(or_(*(T.name.like(like_of(p), escape="\\") for p in rule.task_names)))
        per_rule.append(and_(true(), *parts))
    return or_(false(), *per_rule)


__all__ = ["filter_clauses", "like_pattern", "text_clause"]
