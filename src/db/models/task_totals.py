"""`celery_task_totals` and `celery_task_runtime_totals`: all-time task counters behind
`celery_tasks_total`, `celery_task_duration_seconds` and the per-task-name metrics.

They are kept by triggers on `celery_task_results_ext` (created by migration 0002), so whatever
writes task rows (the collector's batched upserts, marking tasks LOST, tests) counts, in SQL and
once per statement on PostgreSQL (statement triggers over the transition tables), and nothing in
Python runs per event. Retention deletes task rows and never touches these, so the counters never
go down. What is counted, per (queue, name):

- `SEEN`: a task row was created (the task was first recorded);
- each final state a row enters: SUCCESS, FAILURE, REVOKED, REJECTED, LOST (a row that moves from
  one final state to another, e.g. LOST then SUCCESS, counts in both);
- `RETRY`: the growth of the row's `retries` (so every retry, however batched);
- a task's runtime, the first time the row has one, in the bucket it falls in (non-cumulative,
  `bucket` indexes src/monitoring/task_stats.py's DURATION_BUCKETS; the last is +Inf).

A null queue or name is counted as "unknown" (a row that learns its name later stays there).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from src.db.models.base import Base


class TaskTotal(Base):
    __tablename__ = "celery_task_totals"

    queue: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    tasks: Mapped[int] = mapped_column(BigInteger, default=0)


class TaskRuntimeTotal(Base):
    __tablename__ = "celery_task_runtime_totals"

    queue: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    tasks: Mapped[int] = mapped_column(BigInteger, default=0)
    runtime_sum: Mapped[float] = mapped_column(Float, default=0.0)


__all__ = ["TaskRuntimeTotal", "TaskTotal"]
