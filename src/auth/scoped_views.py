"""What a scoped caller (src/auth/access.py) sees of views shared by the whole cluster: queues,
workers, alerts, periodic entries, the overview. Pure functions over the domain's own data, so the
resolvers stay thin and every view is limited by the same rules.

The rules, each failing closed (what cannot be shown to be in scope is not shown):
- a queue is shown when a binding names it; its consumers only when their hostname matches;
- a worker when its hostname matches a binding's worker pattern;
- a waiting message (peekQueue) when its task name and queue are in scope;
- a periodic entry when its task name and the queue its task goes to are in scope;
- an alert when what it is about is: a queue (queue_backlog), a worker (worker_offline), an
  entry's task and queue (periodic_missed), or, for figures over a selection of tasks
  (failure_rate, task_stuck), the whole selection; alerts about the cluster as a whole
  (collector_dropping) or about sign-ins (auth_failures) are never shown;
- beat's status keeps only the entries in scope (its counts recomputed from them);
- the overview keeps only the above, and no cluster-wide sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from src.access_scope import AccessScope
from src.brokers.base import PeekedMessage
from src.monitoring.alerts import Alert
from src.monitoring.overview import Overview
from src.monitoring.sample import QueueSample, WorkerSample
from src.periodic.model import EntryState, Health
from src.periodic.sample import BeatSample
from src.queues.catalog import QueueInfo


def queues(scope: AccessScope, found: Iterable[QueueInfo]) -> list[QueueInfo]:
    """The queues a binding names, each with only the consumers in scope."""
    return [
        dataclasses.replace(q, consumers=[h for h in q.consumers if scope.allows_worker(h)])
        for q in found
        if scope.allows_queue(q.name)
    ]


def queue_samples(scope: AccessScope, found: Iterable[QueueSample]) -> list[QueueSample]:
    """Sampled queues a binding names; the oldest message's task id only where every task of
    the queue is in scope (the id may be any task's)."""
    return [
        q if scope.covers((q.name,), ()) else q.model_copy(update={"oldest_task_id": None})
        for q in found
        if scope.allows_queue(q.name)
    ]


def worker_samples(scope: AccessScope, found: Iterable[WorkerSample]) -> list[WorkerSample]:
    return [w for w in found if scope.allows_worker(w.hostname)]


def peeked(scope: AccessScope, queue: str, found: Iterable[PeekedMessage]) -> list[PeekedMessage]:
    return [m for m in found if scope.allows_task({"queue": queue, "name": m.task_name})]


def periodic_entries(
    scope: AccessScope, found: Iterable[EntryState], queue_of: Any
) -> list[EntryState]:
    """Entries whose task and queue (`queue_of(entry)`, the periodic service's) are in scope."""
    return [
        s for s in found if scope.allows_task({"name": s.entry.task, "queue": queue_of(s.entry)})
    ]


def beat(scope: AccessScope, sample: BeatSample) -> BeatSample:
    """Beat's status limited to the entries in scope: their figures recomputed from them, no
    reasons (they name entries); whether beat itself is alive (state, heartbeats) is kept."""
    entries = [e for e in sample.entries if scope.allows_task({"name": e.task, "queue": e.queue})]
    enabled = [e for e in entries if e.enabled]
    overdue = [e.overdue_seconds for e in enabled if e.overdue_seconds is not None]
    runs = [e.last_run_at for e in entries if e.last_run_at is not None]
    return sample.model_copy(
        update={
            "entries": entries,
            "entries_total": len(entries),
            "entries_enabled": len(enabled),
            "late": sum(1 for e in enabled if e.health == Health.LATE),
            "missed": sum(1 for e in enabled if e.health == Health.MISSED),
            "max_overdue_seconds": max(overdue, default=None),
            "last_run_at": max(runs, default=None),
            "reasons": [],
            "sources": [
                s.model_copy(update={"entries": sum(1 for e in entries if e.source == s.source)})
                for s in sample.sources
            ],
        }
    )


def _selection(details: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    selected = details.get("scope")
    if not isinstance(selected, dict):
        return None  # raised before alerts said what they were over
    # (a worker limit in the selection only narrows it further: not needed to decide)
    return tuple(selected.get("queues") or ()), tuple(selected.get("names") or ())


def alert_visible(scope: AccessScope, alert: Alert) -> bool:
    subject, details = alert.subject, alert.details
    if alert.kind == "queue_backlog":
        return subject is not None and scope.allows_queue(subject)
    if alert.kind == "worker_offline":
        return subject is not None and scope.allows_worker(subject)
    if alert.kind == "periodic_missed":
        return scope.allows_task({"name": details.get("task"), "queue": details.get("queue")})
    if alert.kind in ("failure_rate", "task_stuck"):
        selection = _selection(details)
        return selection is not None and scope.covers(*selection)
    return False


def alerts(scope: AccessScope | None, found: Sequence[Alert]) -> list[Alert]:
    """The alerts this caller may see (all of them when it is not scoped)."""
    if scope is None:
        return list(found)
    return [a for a in found if alert_visible(scope, a)]


def overview(scope: AccessScope, found: Overview) -> Overview:
    """The overview without its cluster-wide sample, limited to the scope (recent failures are
    counted in scope by the caller: src/monitoring/overview.py)."""
    return dataclasses.replace(
        found,
        latest=None,
        queues=queue_samples(scope, found.queues),
        active_alerts=alerts(scope, found.active_alerts),
    )


__all__ = [
    "alert_visible",
    "alerts",
    "beat",
    "overview",
    "peeked",
    "periodic_entries",
    "queue_samples",
    "queues",
    "worker_samples",
]
