"""Per-task merge of Celery task events into the row they describe, tolerant of disorder.

Events arrive duplicated and out of order (several workers and clients, buffered task events,
reconnects, reconciliation). The rules, shared with the database upsert in `store.py`:

- Each event kind fills its own timestamp column: first `sent_at`/`received_at` (a retried task is
  received again), latest `started_at`, `retried_at` and terminal times.
- The state is decided by `(rank, timestamp)` of the event that set it, highest wins: PENDING
  (task-sent) ranks 0, RECEIVED/STARTED/RETRY/LOST 1, SUCCESS/FAILURE/REVOKED/REJECTED 2. So a
  late task-received never overwrites SUCCESS, and a duplicate changes nothing. The winning
  event's timestamp is kept in `last_event_at` so later batches compare against it.
- Retries are the highest `retries` of task-sent/received (a retry re-sends the task with the
  count incremented, and its next run is received at once, often before the task-retried event
  is even sent, so timestamps cannot tell runs apart); a task-retried alone means at least one.
- Result, exception, traceback and worker follow the winning event; other fields fill when empty.

Memory is bounded: at most `max_pending` tasks wait for a flush. When the cap is reached (the
database is slow or down), events for tasks already pending still merge, events for new tasks are
dropped and counted in `overflow_dropped`, so what was collected stays intact.
"""

from __future__ import annotations

import sys
from typing import Any

PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, REJECTED, LOST = (
    "PENDING",
    "RECEIVED",
    "STARTED",
    "SUCCESS",
    "FAILURE",
    "RETRY",
    "REVOKED",
    "REJECTED",
    "LOST",
)
TERMINAL = frozenset({SUCCESS, FAILURE, REVOKED, REJECTED})
RANK = {PENDING: 0, RECEIVED: 1, STARTED: 1, RETRY: 1, LOST: 1, SUCCESS: 2, FAILURE: 2}
RANK.update({REVOKED: 2, REJECTED: 2})

# Columns a pending row may carry (the order `store.py` writes them in).
COLUMNS = (
    "task_id",
    "name",
    "state",
    "queue",
    "exchange",
    "routing_key",
    "worker",
    "args",
    "kwargs",
    "result",
    "exception",
    "traceback",
    "retries",
    "eta",
    "expires",
    "sent_at",
    "received_at",
    "started_at",
    "succeeded_at",
    "failed_at",
    "retried_at",
    "revoked_at",
    "finished_at",
    "runtime",
    "parent_id",
    "root_id",
    "last_event_at",
    "seen_at",
    "args_json",
    "kwargs_json",
    "args_status",
    "args_note",
)
# The exact call, recorded by the worker-side extension (celery_admin_events) as a `task-args`
# entry of the durable event stream: JSON texts plus what they hold. Filled once, never replaced.
ARGS_COLUMNS = ("args_json", "kwargs_json", "args_status", "args_note")
TIME_COLUMNS = frozenset(c for c in COLUMNS if c.endswith("_at"))
# Columns that follow the winning event (the others fill when empty).
WINNER_COLUMNS = ("worker", "result", "exception", "traceback")
FIRST_COLUMNS = ("sent_at", "received_at", "seen_at")
LATEST_COLUMNS = (
    "started_at",
    "succeeded_at",
    "failed_at",
    "retried_at",
    "revoked_at",
    "finished_at",
)

_EVENT_STATE = {
    "task-sent": PENDING,
    "task-received": RECEIVED,
    "task-started": STARTED,
    "task-succeeded": SUCCESS,
    "task-failed": FAILURE,
    "task-retried": RETRY,
    "task-revoked": REVOKED,
    "task-rejected": REJECTED,
}
_EVENT_TIME = {
    "task-sent": "sent_at",
    "task-received": "received_at",
    "task-started": "started_at",
    "task-succeeded": "succeeded_at",
    "task-failed": "failed_at",
    "task-retried": "retried_at",
    "task-revoked": "revoked_at",
}
_FILL_FIELDS = (
    "name",
    "args",
    "kwargs",
    "root_id",
    "parent_id",
    "eta",
    "expires",
    "queue",
    "exchange",
    "routing_key",
)

_REPEATED = frozenset({"name", "queue", "exchange", "routing_key"})
_intern = sys.intern


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return repr(value)


def wins(new_state: str, new_ts: float, old_state: str | None, old_ts: float | None) -> bool:
    """Whether an event setting `new_state` at `new_ts` replaces the current state."""
    if old_state is None:
        return True
    new_rank, old_rank = RANK.get(new_state, 1), RANK.get(old_state, 1)
    if new_rank != old_rank:
        return new_rank > old_rank
    return old_ts is None or new_ts >= old_ts


class TaskMerger:
    """Merges task events into pending rows; `drain()` hands them to the flusher."""

    def __init__(self, max_pending: int = 100_000, max_running: int = 100_000) -> None:
        self.max_pending = max_pending
        self.max_running = max_running
        self.pending: dict[str, dict[str, Any]] = {}
        # Start times of tasks that may still be running, kept across flushes (bounded, oldest
        # forgotten first): task-failed carries no runtime.
        self.running: dict[str, float] = {}
        self.merged = 0
        self.overflow_dropped = 0

    def apply(self, event: dict[str, Any]) -> str | None:
        """Merge one task event; return the state it set (None when the state did not change)."""
        kind = event.get("type")
        if kind == "task-args":
            self._args(event)
            return None
        state = _EVENT_STATE.get(kind)  # type: ignore[arg-type]
        task_id = event.get("uuid")
        if state is None or not task_id:
            return None
        ts = event.get("timestamp")
        if not isinstance(ts, int | float):
            return None
        row = self.pending.get(task_id)
        if row is None:
            if len(self.pending) >= self.max_pending:
                self.overflow_dropped += 1
                return None
            row = self.pending[task_id] = {"task_id": task_id, "retries": 0, "seen_at": ts}
        self.merged += 1
        if ts < row["seen_at"]:
            row["seen_at"] = ts

        reconciled = event.get("_reconciled", False)
        column = _EVENT_TIME.get(kind)  # type: ignore[arg-type]
        if column is not None and not (reconciled and kind == "task-received"):
            old = row.get(column)
            if old is None or (ts < old if column in FIRST_COLUMNS else ts > old):
                row[column] = ts

        if kind in ("task-sent", "task-received") or reconciled:
            for field in _FILL_FIELDS:
                if field not in row:
                    value = event.get(field)
                    if value is not None:
                        if value.__class__ is not str:
                            value = _text(value)
                        elif field in _REPEATED:
                            value = _intern(value)  # one copy of each name, not one per row
                        row[field] = value
        retries = event.get("retries")
        if isinstance(retries, int) and retries > row["retries"]:
            row["retries"] = retries

        running = self.running
        if kind == "task-started":
            self._remember(task_id, ts)
        elif kind == "task-retried" and row["retries"] < 1:
            row["retries"] = 1

        if kind == "task-rejected" and event.get("requeue"):
            return None
        if not wins(state, ts, row.get("state"), row.get("last_event_at")):
            self._fill_loser(row, kind, event)  # type: ignore[arg-type]
            return None
        row["state"] = state
        row["last_event_at"] = ts
        hostname = event.get("hostname")
        if kind != "task-sent" and hostname:
            row["worker"] = _intern(hostname)
        if kind == "task-succeeded":
            row["result"] = _text(event.get("result"))
            runtime = event.get("runtime")
            if isinstance(runtime, int | float):
                row["runtime"] = float(runtime)
        elif kind in ("task-failed", "task-retried"):
            row["exception"] = _text(event.get("exception"))
            row["traceback"] = _text(event.get("traceback"))
        if state in TERMINAL:
            row["finished_at"] = ts
            entry = running.pop(task_id, None)
            if kind == "task-failed" and row.get("runtime") is None:
                started = row.get("started_at") or entry
                if started is not None and ts >= started:
                    row["runtime"] = ts - started
        return state

    def _args(self, event: dict[str, Any]) -> None:
        task_id, ts = event.get("uuid"), event.get("timestamp")
        if not task_id or not isinstance(ts, int | float):
            return
        row = self.pending.get(task_id)
        if row is None:
            if len(self.pending) >= self.max_pending:
                self.overflow_dropped += 1
                return
            row = self.pending[task_id] = {"task_id": task_id, "retries": 0, "seen_at": ts}
        if row.get("args_status") is None:
            for column in ARGS_COLUMNS:
                value = event.get(column)
                row[column] = value if value is None or isinstance(value, str) else repr(value)
        for field in ("name", "queue", "exchange"):
            value = event.get(field)
            if value and isinstance(value, str) and field not in row:
                row[field] = _intern(value)

    @staticmethod
    def _fill_loser(row: dict[str, Any], kind: str, event: dict[str, Any]) -> None:
        """A late event keeps its details where nothing better is known."""
        if kind == "task-succeeded" and row.get("result") is None:
            row["result"] = _text(event.get("result"))
        elif kind in ("task-failed", "task-retried") and row.get("exception") is None:
            row["exception"] = _text(event.get("exception"))
            row["traceback"] = _text(event.get("traceback"))
        if row.get("worker") is None and kind != "task-sent" and event.get("hostname"):
            row["worker"] = event["hostname"]

    def _remember(self, task_id: str, started: float) -> None:
        running = self.running
        if task_id not in running and len(running) >= self.max_running:
            del running[next(iter(running))]
        running[task_id] = started

    def mark_lost(self, task_id: str, worker: str, at: float) -> None:
        """A task started on `worker`, which went away: LOST unless something later is known."""
        row = self.pending.get(task_id)
        if row is None:
            if len(self.pending) >= self.max_pending:
                self.overflow_dropped += 1
                return
            row = self.pending[task_id] = {"task_id": task_id, "retries": 0, "seen_at": at}
        if wins(LOST, at, row.get("state"), row.get("last_event_at")):
            row["state"] = LOST
            row["last_event_at"] = at
            row["finished_at"] = max(at, row.get("finished_at") or at)
            row.setdefault("worker", worker)
        self.running.pop(task_id, None)

    def started_on(self, worker: str) -> list[str]:
        """Pending tasks whose latest state is STARTED on `worker`."""
        return [
            tid
            for tid, row in self.pending.items()
            if row.get("state") == STARTED and row.get("worker") == worker
        ]

    def drain(self) -> list[dict[str, Any]]:
        rows = list(self.pending.values())
        self.pending = {}
        return rows

    def restore(self, rows: list[dict[str, Any]]) -> None:
        """Put back rows a failed flush could not write, merging with what arrived since."""
        for row in rows:
            current = self.pending.get(row["task_id"])
            if current is None:
                self.pending[row["task_id"]] = row
            else:
                self.pending[row["task_id"]] = merge_rows(row, current)

    def __len__(self) -> int:
        return len(self.pending)


def merge_rows(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Combine two partial rows of one task by the same rules as the database upsert."""
    out = dict(old)
    new_wins = "state" in new and wins(
        new["state"], new["last_event_at"], old.get("state"), old.get("last_event_at")
    )
    for key, value in new.items():
        if value is None:
            continue
        current = out.get(key)
        if current is None:
            out[key] = value
        elif key in FIRST_COLUMNS:
            out[key] = min(current, value)
        elif key in LATEST_COLUMNS or key == "retries":
            out[key] = max(current, value)
        elif (key in WINNER_COLUMNS or key in ("state", "last_event_at", "runtime")) and new_wins:
            out[key] = value
    return out


__all__ = [
    "ARGS_COLUMNS",
    "COLUMNS",
    "RANK",
    "TERMINAL",
    "TIME_COLUMNS",
    "TaskMerger",
    "merge_rows",
    "wins",
]
