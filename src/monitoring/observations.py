"""What each alert rule observes in a sample (or the task history): per subject, FIRING, CLEAR or
HOLD (inside the hysteresis band), with the value, threshold and a message. The alert engine
(src/monitoring/alerts.py) turns observations held long enough into raised and resolved alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import func, select

from src.db.models import TaskRecord
from src.db.session import Database
from src.monitoring.alert_rules import (
    CollectorDroppingRule,
    FailureRateRule,
    QueueBacklogRule,
    TaskStuckRule,
    WorkerOfflineRule,
)
from src.monitoring.sample import MetricsSample
from src.task_store.filters import filter_clauses

MAX_STUCK_IDS = 20


class Verdict(Enum):
    FIRING = "firing"
    CLEAR = "clear"
    HOLD = "hold"


@dataclass
class Observation:
    subject: str | None
    verdict: Verdict
    value: float | None
    threshold: float | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def backlog(rule: QueueBacklogRule, sample: MetricsSample) -> list[Observation]:
    observations = []
    for queue in sample.queues:
        if rule.queues and queue.name not in rule.queues:
            continue
        if queue.length > rule.threshold:
            verdict = Verdict.FIRING
        elif queue.length <= rule.clear_level():
            verdict = Verdict.CLEAR
        else:
            verdict = Verdict.HOLD
        observations.append(
            Observation(
                queue.name,
                verdict,
                float(queue.length),
                float(rule.threshold),
                f"queue {queue.name} holds {queue.length} messages (threshold {rule.threshold})",
                {"oldest_age_seconds": queue.oldest_age_seconds},
            )
        )
    return observations


def collector_dropping(rule: CollectorDroppingRule, sample: MetricsSample) -> list[Observation]:
    """FIRING while the collector reports that it drops events (no collector: no observation)."""
    report = sample.collector
    if report is None:
        return []
    lost = sum(report.dropped.values())
    by_reason = ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items()) if v)
    return [
        Observation(
            None,
            Verdict.FIRING if report.dropping else Verdict.CLEAR,
            float(lost),
            None,
            f"the collector {'is dropping' if report.dropping else 'dropped'} events "
            f"({lost} lost since it started: {by_reason or 'none'})",
            {"dropped": dict(report.dropped)},
        )
    ]


def offline(
    rule: WorkerOfflineRule, sample: MetricsSample, now: float, seen: dict[str, float]
) -> list[Observation]:
    online = {w.hostname for w in sample.workers}
    if rule.workers:
        watched = set(rule.workers)
    else:
        watched = {h for h, at in seen.items() if now - at <= rule.forget_after_seconds}
    observations = []
    for hostname in sorted(watched):
        up = hostname in online
        last = seen.get(hostname)
        observations.append(
            Observation(
                hostname,
                Verdict.CLEAR if up else Verdict.FIRING,
                1.0 if up else 0.0,
                None,
                f"worker {hostname} is {'online' if up else 'offline'}",
                {"last_seen": datetime.fromtimestamp(last, UTC).isoformat() if last else None},
            )
        )
    return observations


async def failure_rate(db: Database, rule: FailureRateRule, now: float) -> list[Observation]:
    since = datetime.fromtimestamp(now, UTC) - timedelta(seconds=rule.window_seconds)
    async with db.session("failure rate") as session:
        rows = await session.execute(
            select(TaskRecord.state, func.count())
            .where(
                TaskRecord.finished_at >= since,
                TaskRecord.state.in_(("SUCCESS", "FAILURE")),
                *filter_clauses(rule.scope.to_filter(), db.dialect),
            )
            .group_by(TaskRecord.state)
        )
        counts = {state: int(n) for state, n in rows}
    failed, total = counts.get("FAILURE", 0), sum(counts.values())
    rate = failed / total if total else 0.0
    if total >= rule.min_tasks and rate > rule.threshold:
        verdict = Verdict.FIRING
    elif total < rule.min_tasks or rate <= rule.clear_level():
        verdict = Verdict.CLEAR
    else:
        verdict = Verdict.HOLD
    return [
        Observation(
            None,
            verdict,
            round(rate, 4),
            rule.threshold,
            f"{failed} of {total} tasks failed in the last {rule.window_seconds:g}s "
            f"({rate:.0%}, threshold {rule.threshold:.0%})",
            # what the figures are over: a scoped caller sees the alert only when all of it is
            # in its scope (src/auth/scoped_views.py)
            {"failed": failed, "finished": total, "scope": rule.scope.model_dump()},
        )
    ]


async def stuck(db: Database, rule: TaskStuckRule, now: float) -> list[Observation]:
    before = datetime.fromtimestamp(now, UTC) - timedelta(seconds=rule.seconds)
    where = [
        TaskRecord.state == "STARTED",
        TaskRecord.started_at < before,
        *filter_clauses(rule.scope.to_filter(), db.dialect),
    ]
    async with db.session("stuck tasks") as session:
        count = int(
            await session.scalar(select(func.count()).select_from(TaskRecord).where(*where)) or 0
        )
        ids = (
            await session.scalars(
                select(TaskRecord.task_id)
                .where(*where)
                .order_by(TaskRecord.started_at)
                .limit(MAX_STUCK_IDS)
            )
        ).all()
    return [
        Observation(
            None,
            Verdict.FIRING if count else Verdict.CLEAR,
            float(count),
            rule.seconds,
            f"{count} task(s) STARTED more than {rule.seconds:g}s ago",
            {"task_ids": list(ids), "scope": rule.scope.model_dump()},
        )
    ]


__all__ = ["Observation", "Verdict", "backlog", "failure_rate", "offline", "stuck"]
