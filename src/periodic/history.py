"""An entry's runs, from the task history (`celery_task_results_ext`).

Which tasks are runs of an entry: those with the entry's task name whose arguments equal the
entry's. Celery's events carry no header of the message (beat's `celery_beat_task`,
django-celery-beat's `periodic_task_name` are lost on the way), so the arguments are what tells two
entries of the same task apart: the exact ones when the history has them (`args_json`), else the
repr the events carry, read back with `ast.literal_eval` (plain literals only, never evaluated
code). A repr that cannot be read back (cut by Celery at 1024 characters, a custom `argsrepr`, an
object) matches by name alone, and the run says so (`args_matched`). A task sent by hand with the
same name and arguments (`runPeriodicTaskNow` included) counts as a run.

Bounded: per task name, the newest SCAN_ROWS rows seen inside the lookback window are read (one
indexed range scan on `(name, seen_at)`); runs of an entry whose task name is sent far more often
by other callers can fall outside it.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from src.db.models import TaskRecord
from src.db.session import Database
from src.periodic.model import Entry, Run
from src.periodic.schedules import aware

SCAN_ROWS = 200
LOOKBACK = timedelta(days=7)
_COLUMNS = (
    TaskRecord.task_id,
    TaskRecord.name,
    TaskRecord.state,
    TaskRecord.args,
    TaskRecord.kwargs,
    TaskRecord.args_json,
    TaskRecord.kwargs_json,
    TaskRecord.seen_at,
    TaskRecord.sent_at,
    TaskRecord.started_at,
    TaskRecord.finished_at,
    TaskRecord.runtime,
    TaskRecord.worker,
)
_UNKNOWN = object()


def canonical(value: Any) -> str:
    """A comparable form of arguments: tuples as lists, keys sorted, anything else by repr."""
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


def _literal(text: str | None) -> Any:
    if text is None:
        return _UNKNOWN
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _UNKNOWN


def _args(row: Any) -> Any:
    if isinstance(row.args_json, list):
        return row.args_json
    value = _literal(row.args)
    return list(value) if isinstance(value, list | tuple) else _UNKNOWN


def _kwargs(row: Any) -> Any:
    if isinstance(row.kwargs_json, dict):
        return row.kwargs_json
    value = _literal(row.kwargs)
    return value if isinstance(value, dict) else _UNKNOWN


def match(entry: Entry, row: Any) -> bool | None:
    """True: same arguments; False: different ones; None: unreadable, same name only."""
    args, kwargs = _args(row), _kwargs(row)
    if args is _UNKNOWN or kwargs is _UNKNOWN:
        return None
    return canonical(args) == canonical(list(entry.args)) and canonical(kwargs) == canonical(
        dict(entry.kwargs)
    )


def to_run(row: Any, args_matched: bool) -> Run:
    seen = aware(row.seen_at)
    assert seen is not None
    return Run(
        task_id=row.task_id,
        state=row.state,
        seen_at=seen,
        sent_at=aware(row.sent_at),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
        runtime=row.runtime,
        worker=row.worker,
        args_matched=args_matched,
    )


async def recent_rows(db: Database, names: Iterable[str], now: datetime) -> dict[str, list[Any]]:
    """The newest SCAN_ROWS rows of each task name seen within LOOKBACK, newest first."""
    since = now - LOOKBACK
    found: dict[str, list[Any]] = {}
    wanted = sorted({n for n in names if n})
    if not wanted:
        return found
    async with db.session("periodic task runs") as session:
        for name in wanted:
            rows = await session.execute(
                select(*_COLUMNS)
                .where(TaskRecord.name == name, TaskRecord.seen_at >= since)
                .order_by(TaskRecord.seen_at.desc(), TaskRecord.task_id.desc())
                .limit(SCAN_ROWS)
            )
            found[name] = list(rows.all())
    return found


def runs_of(entry: Entry, rows: list[Any]) -> list[Run]:
    """The rows (newest first) that are runs of `entry`."""
    runs = []
    for row in rows:
        matched = match(entry, row)
        if matched is False:
            continue
        runs.append(to_run(row, matched is True))
    return runs


__all__ = ["LOOKBACK", "SCAN_ROWS", "canonical", "match", "recent_rows", "runs_of", "to_run"]
