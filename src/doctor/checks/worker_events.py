"""Workers that run tasks without sending task events (`-E`, worker_send_task_events): their
tasks never appear in the history, in live events or in wait-time and failure metrics, and a
failure there alerts nobody."""

from __future__ import annotations

from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "worker_without_task_events"


async def run(sources: Sources) -> list[Advisory]:
    if not await sources.collector_running():
        return []  # without a collector no worker's events are recorded: nothing to compare
    stats = await sources.stats()
    recorded = await sources.tasks_by_worker()
    silent = []
    for hostname, reply in sorted(stats.items()):
        processed = sum(int(n) for n in (reply.get("total") or {}).values())
        if processed > 0 and recorded.get(hostname, 0) == 0:
            silent.append(f"{hostname} ({processed} tasks processed, none recorded)")
    if not silent:
        return []
    return [
        Advisory(
            code=CODE,
            severity=Severity.WARNING,
            title="Workers run tasks without sending task events",
            evidence="Per `inspect stats`, these workers processed tasks since they started, "
            "yet the collector (running) recorded no task event from them in the last day: "
            + "; ".join(silent)
            + ".",
            fix="start them with -E (or worker_send_task_events=True in their configuration); "
            "a running worker can be switched with the enable_events control command, "
            "until it restarts.",
        )
    ]


CHECK = Check(CODE, run)

__all__ = ["CHECK", "CODE"]
