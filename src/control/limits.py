"""Task limits on workers: rate limits and soft/hard time limits.

Both read each worker's registered entry for the task (with the limit attributes) before and after,
act only on the workers that have the task, and refuse a task no chosen worker knows (NOT_FOUND).
"""

from __future__ import annotations

import re
from typing import Any

from src.control.inspector import InspectKind
from src.control.plane import ControlPlane
from src.control.result import CommandResult, observed_command
from src.errors import BadInput, NotFound

RATE = re.compile(r"^\s*\d+(\.\d+)?\s*(/\s*[smh])?\s*$")


async def _task_settings(
    plane: ControlPlane, targets: list[str], task_name: str, items: list[str]
) -> dict[str, str | None]:
    """Each worker's registered entry for task_name with the given task attributes, e.g.
    'proj.add [rate_limit=10/m]'; None where the worker does not have the task."""
    raw = await plane.controller.call("registered", {"taskinfoitems": items}, destination=targets)
    found: dict[str, str | None] = {}
    for host in targets:
        entries = raw.get(host) or []
        found[host] = next(
            (str(e) for e in entries if str(e) == task_name or str(e).startswith(task_name + " ")),
            None,
        )
    return found


async def _set_limit(
    plane: ControlPlane,
    task_name: str,
    workers: list[str] | None,
    *,
    command: str,
    arguments: dict[str, Any],
    items: list[str],
) -> CommandResult:
    targets = await plane.controller.resolve(workers)
    before = await _task_settings(plane, targets, task_name, items)
    if not any(before.values()):
        raise NotFound(f"unknown task {task_name!r} on {', '.join(targets)}", field="taskName")
    having = [h for h, v in before.items() if v]
    return await observed_command(
        plane,
        command,
        {"task_name": task_name, **arguments},
        destination=having,
        before=before,
        after=lambda: _task_settings(plane, having, task_name, items),
        changes=InspectKind.REGISTERED,
    )


async def set_rate_limit(
    plane: ControlPlane, task_name: str, rate: str, workers: list[str] | None
) -> CommandResult:
    if not RATE.match(rate):
        raise BadInput(
            f"rate: {rate!r} is not a rate like '10/m', '2/s', '100/h' or '0' (no limit)",
            field="rate",
        )
    return await _set_limit(
        plane,
        task_name,
        workers,
        command="rate_limit",
        arguments={"rate_limit": rate.replace(" ", "")},
        items=["rate_limit"],
    )


async def set_time_limit(
    plane: ControlPlane,
    task_name: str,
    soft: float | None,
    hard: float | None,
    workers: list[str] | None,
) -> CommandResult:
    for label, value in (("soft", soft), ("hard", hard)):
        if value is not None and value < 0:
            raise BadInput(f"{label}: must not be negative", field=label)
    if soft is not None and hard is not None and soft > hard:
        raise BadInput("soft: must not exceed hard", field="soft")
    return await _set_limit(
        plane,
        task_name,
        workers,
        command="time_limit",
        arguments={"soft": soft, "hard": hard},
        items=["time_limit", "soft_time_limit"],
    )


__all__ = ["set_rate_limit", "set_time_limit"]
