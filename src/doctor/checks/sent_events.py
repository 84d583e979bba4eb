"""`task_send_sent_event` off: without task-sent events nobody knows when a task was queued, so
wait times (queue latency), the backlog's age and `PENDING` tasks stay invisible."""

from __future__ import annotations

from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources

CODE = "task_sent_events_off"
MIN_ROWS = 5  # per task name, before a name counts


async def run(sources: Sources) -> list[Advisory]:
    names = []
    for name, (total, missing) in sorted(
        (await sources.recent_sent_times()).items(), key=lambda i: str(i[0])
    ):
        if total >= MIN_ROWS and missing == total:
            names.append(f"{name or '(unnamed)'} ({missing} of {total})")
    app_off = sources.operators_app and not sources.app.conf.task_send_sent_event
    if not names and not app_off:
        return []
    evidence = (
        "Of the latest recorded tasks, these names never had a sent time (the task-sent event "
        "is missing): " + ", ".join(names[:20]) + ("; and more" if len(names) > 20 else "") + "."
        if names
        else ""
    )
    if app_off:
        evidence += " The configured CELERY_APP has task_send_sent_event=False."
    return [
        Advisory(
            code=CODE,
            severity=Severity.WARNING,
            title="Tasks are sent without task-sent events: no wait times",
            evidence=evidence.strip(),
            fix="task_send_sent_event=True in the configuration of every process that sends "
            "tasks (web apps, beat, and workers, which send subtasks).",
        )
    ]


CHECK = Check(CODE, run)

__all__ = ["CHECK", "CODE"]
