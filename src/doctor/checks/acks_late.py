"""`acks_late` without `reject_on_worker_lost`: when the process running an acks_late task dies
(OOM kill, segfault, SIGKILL) Celery acknowledges the message anyway, so the task the setting was
meant to protect is lost. For idempotent tasks, rejecting requeues it instead."""

from __future__ import annotations

from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "acks_late_without_reject_on_worker_lost"


async def run(sources: Sources) -> list[Advisory]:
    found = []
    for hostname, conf in sorted((await sources.worker_conf()).items()):
        if conf.get("task_acks_late") and not conf.get("task_reject_on_worker_lost"):
            found.append(
                f"worker {hostname}: task_acks_late=True, task_reject_on_worker_lost unset"
            )
    if sources.operators_app:
        for name, task in sorted(sources.app.tasks.items()):
            if name.startswith("celery."):
                continue
            if getattr(task, "acks_late", False) and not getattr(
                task, "reject_on_worker_lost", None
            ):
                found.append(f"task {name}: acks_late without reject_on_worker_lost")
    if not found:
        return []
    return [
        Advisory(
            code=CODE,
            severity=Severity.WARNING,
            title="acks_late tasks are lost when their worker process dies",
            evidence="; ".join(found[:20]) + ("; and more" if len(found) > 20 else "") + ".",
            fix="for idempotent tasks set task_reject_on_worker_lost=True (or "
            "@task(acks_late=True, reject_on_worker_lost=True)) so the message is requeued; "
            "keep it off for tasks that must not run twice.",
        )
    ]


CHECK = Check(CODE, run)

__all__ = ["CHECK", "CODE"]
