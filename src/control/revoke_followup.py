"""What a revoke does besides recording and broadcasting it, and what the audit row says of it.

1. The waiting messages of the revoked tasks are taken out of their queues where the broker
   allows it (`QueueBackend.remove_waiting`; Redis: src/brokers/redis_queues.py), so no worker,
   whatever it missed, can get them;
   those tasks are marked REVOKED in the result backend, as a worker discarding them would have.
   Other brokers cannot remove one message from a queue: the answer says so, and the revoke still
   stands (a worker discards the message when it gets it). `REVOKE_REMOVE_QUEUED=false` keeps
   messages where they are.
2. Every worker counted alive that did not confirm the broadcast (stopped, restarting, or not yet
   listening) gets the re-send until it acknowledges (revoke_replay.py).

A failure here never undoes the revoke (it is recorded and broadcast already): it is reported in
`observed` instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from src.control.broadcast import WorkerReply

if TYPE_CHECKING:
    from src.control.plane import ControlPlane

log = logging.getLogger(__name__)

REPORT_IDS = 100  # removed ids listed in the audit row; the count is always there
REVOKED_REASON = "revoked with celery-admin; removed from its queue before any worker got it"


async def after_revoke(
    plane: ControlPlane,
    task_ids: list[str],
    replies: list[WorkerReply],
    *,
    queue: str | None = None,
) -> dict[str, Any]:
    """Remove waiting messages and ask for re-sends; returns entries for `observed`."""
    observed = await _remove_queued(plane, task_ids, queue)
    confirmed = {r.hostname for r in replies}
    missing = sorted(set(plane.inspector.known_workers()) - confirmed)
    if missing and plane.replayer is not None:
        for hostname in missing:
            plane.replayer.notice(hostname)
        observed["resent_until_acknowledged"] = missing
    return observed


async def _remove_queued(
    plane: ControlPlane, task_ids: list[str], queue: str | None
) -> dict[str, Any]:
    if not plane.remove_queued:
        return {"queue_removal": "off (REVOKE_REMOVE_QUEUED=false): workers discard the messages"}
    try:
        names = await plane.queues.names()
        if queue:
            names.add(queue)
        report = await plane.queues.backend.remove_waiting(sorted(names), task_ids)
    except Exception as exc:  # broker trouble: the revoke stands, the message stays
        log.warning("revoke: could not search the queues: %s", exc)
        return {"queue_removal": f"failed ({type(exc).__name__}): the messages stay queued"}
    if report is None:
        scheme = str(plane.app.conf.broker_url or "").split("://", 1)[0] or "this broker"
        return {
            "queue_removal": f"not supported on {scheme}: the messages stay queued and workers "
            "discard them (the revoke stands)"
        }
    removed = dict(list(report.removed.items())[:REPORT_IDS])
    observed: dict[str, Any] = {
        "removed_from_queue": removed,
        "removed_count": len(report.removed),
        "queue_entries_scanned": report.scanned,
    }
    if report.incomplete:
        observed["queues_not_fully_scanned"] = report.incomplete
    if report.removed:
        failed = await _mark_revoked(plane, list(report.removed))
        if failed:
            observed["result_backend"] = failed
    return observed


async def _mark_revoked(plane: ControlPlane, task_ids: list[str]) -> str | None:
    """REVOKED in the result backend for tasks no worker will ever see; None when done."""
    app = plane.app
    if not app.conf.result_backend:
        return "no result backend: state not recorded"

    def mark() -> None:
        for task_id in task_ids:
            app.backend.mark_as_revoked(task_id, reason=REVOKED_REASON)

    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(plane.inspector.executor, mark)
    except Exception as exc:
        log.warning("revoke: could not mark removed tasks REVOKED: %s", exc)
        return f"could not mark REVOKED ({type(exc).__name__})"
    return None


__all__ = ["after_revoke"]
