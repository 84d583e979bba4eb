"""Task control: revoke one task or a previewed selection, re-send finished tasks.

Bulk actions run in two phases so that what runs is what was previewed (see `bulk`): a filter
gives a preview (count, sample, a single-use selection token, nothing acted on); the token then
acts on exactly those ids. Revokes are recorded in Redis first (src/control/revokes.py: given to
workers that start or come back later), then broadcast, then followed up
(src/control/revoke_followup.py: waiting messages removed where the broker allows it, re-sends to
known workers that did not confirm).
"""

from __future__ import annotations

import asyncio
import signal as _signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from src.control.errors import Unsupported
from src.control.inspector import InspectKind
from src.control.plane import ControlPlane
from src.control.result import CommandResult, poll
from src.control.revoke_followup import after_revoke
from src.control.selection import MAX_SELECTION, Selection
from src.errors import AppError, BadInput, BrokerUnavailable, ConflictError
from src.task_filter import FINISHED_STATES, TaskFilter
from src.workers.replies import task_requests

Purpose = Literal["revoke", "retry"]

MAX_RETRY_SELECTION = 1000
SAMPLE_MAX = 50
TERMINATE_WAIT = 5.0


def normalize_signal(name: str | None) -> str:
    """'TERM', 'sigterm', 'SIGTERM' -> 'SIGTERM'; BAD_INPUT for anything that is not a signal."""
    value = (name or "SIGTERM").strip().upper()
    if not value.startswith("SIG"):
        value = "SIG" + value
    if value not in _signal.Signals.__members__:
        raise BadInput(
            f"signal: {name!r} is not a signal name (e.g. SIGTERM, SIGKILL)", field="signal"
        )
    return value


# --- revoke --------------------------------------------------------------------------------------


async def _record_revokes(plane: ControlPlane, task_ids: list[str]) -> None:
    try:
        await plane.revokes.record(task_ids)
    except AppError:
        raise
    except Exception as exc:
        raise BrokerUnavailable(f"could not record the revoke in Redis: {exc}") from exc


async def revoke_task(
    plane: ControlPlane, task_id: str, *, terminate: bool, signal: str | None
) -> CommandResult:
    signame = normalize_signal(signal)
    location = await plane.locator.find(task_id)
    await _record_revokes(plane, [location.task_id])
    replies = await plane.controller.command(
        "revoke", {"task_id": location.task_id, "terminate": terminate, "signal": signame}
    )
    observed: dict[str, Any] = {
        "confirmed_by": [r.hostname for r in replies if r.ok],
        "worker_pid": location.worker_pid,
    }
    observed.update(await after_revoke(plane, [location.task_id], replies, queue=location.queue))
    if terminate and location.worker and location.found_in == "worker":
        worker = location.worker

        async def active_ids() -> set[str | None]:
            raw = await plane.controller.call("active", destination=[worker])
            return {t.id for t in task_requests(raw.get(worker))}

        _ids, gone = await poll(active_ids, lambda ids: location.task_id not in ids, TERMINATE_WAIT)
        observed["left_active"] = gone
    plane.invalidate(InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.REVOKED)
    return CommandResult(
        replies=replies,
        state_before=location.summary(),
        observed=observed,
        data={"task_ids": [location.task_id]},
    )


async def _revoke_ids(
    plane: ControlPlane, task_ids: list[str], *, terminate: bool, signame: str
) -> CommandResult:
    if task_ids:
        await _record_revokes(plane, task_ids)
        replies = await plane.controller.command(
            "revoke", {"task_id": task_ids, "terminate": terminate, "signal": signame}
        )
        followup = await after_revoke(plane, task_ids, replies)
    else:
        replies, followup = [], {}
    plane.invalidate(InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.REVOKED)
    return CommandResult(
        replies=replies,
        observed={
            "count": len(task_ids),
            "confirmed_by": [r.hostname for r in replies if r.ok],
            **followup,
        },
        data={"task_ids": task_ids, "count": len(task_ids)},
    )


# --- retry ---------------------------------------------------------------------------------------


async def _resend(plane: ControlPlane, task_id: str) -> tuple[str, dict[str, Any]]:
    location = await plane.locator.find(task_id)
    if location.state not in FINISHED_STATES:
        raise ConflictError(
            f"task {task_id} is {location.state or 'not finished'}; only finished tasks are retried",
            field="id",
        )
    if not location.call_known and location.opaque:
        raise Unsupported(
            f"the exact arguments of task {task_id} are {location.opaque}: it cannot be re-sent "
            "faithfully",
            field="id",
        )
    if not location.call_known:
        why = (
            f"the recorded call is {location.args_note}"
            if location.args_note
            else "no extended result and no stored args"
        )
        raise Unsupported(
            f"the exact arguments of task {task_id} are not known ({why}); it cannot be re-sent "
            "faithfully",
            field="id",
        )
    loop = asyncio.get_running_loop()
    app = plane.app

    def send() -> str:
        options: dict[str, Any] = {"queue": location.queue} if location.queue else {}
        return str(
            app.send_task(location.name, args=location.args, kwargs=location.kwargs, **options).id
        )

    try:
        new_id = await loop.run_in_executor(plane.inspector.executor, send)
    except Exception as exc:
        raise BrokerUnavailable(f"could not send {location.name}: {exc}") from exc
    return new_id, location.summary()


async def retry_task(plane: ControlPlane, task_id: str) -> CommandResult:
    new_id, before = await _resend(plane, task_id)
    return CommandResult(
        state_before=before,
        observed={"new_task_id": new_id},
        data={"task_ids": [new_id], "retried": {task_id: new_id}},
    )


async def _retry_ids(plane: ControlPlane, task_ids: list[str]) -> CommandResult:
    retried: dict[str, str] = {}
    errors: list[AppError] = []
    for task_id in task_ids:
        try:
            retried[task_id] = (await _resend(plane, task_id))[0]
        except AppError as exc:
            errors.append(AppError(exc.message, code=exc.code, field=task_id))
    return CommandResult(
        errors=errors,
        observed={"count": len(task_ids), "retried": len(retried)},
        data={"task_ids": list(retried.values()), "retried": retried},
    )


# --- bulk: preview, then act on exactly the previewed ids --------------------------------------


async def preview_selection(
    plane: ControlPlane,
    task_filter: TaskFilter,
    *,
    purpose: Purpose,
    subject: str | None,
    sample: int,
) -> CommandResult:
    if task_filter == TaskFilter():
        raise BadInput(
            "filter: give at least one condition (an empty filter selects every task)",
            field="filter",
        )
    if sample < 0 or sample > SAMPLE_MAX:
        raise BadInput(f"sampleSize: between 0 and {SAMPLE_MAX}", field="sampleSize")
    found = await plane.tasks.briefs(task_filter, limit=MAX_SELECTION + 1)
    if len(found) > MAX_SELECTION:
        raise BadInput(f"filter matches more than {MAX_SELECTION} tasks; narrow it", field="filter")
    ids = [t.task_id for t in found]
    if purpose == "retry" and len(ids) > MAX_RETRY_SELECTION:
        raise BadInput(
            f"filter matches {len(ids)} tasks; at most {MAX_RETRY_SELECTION} are retried at once",
            field="filter",
        )
    selection = await plane.selections.create(purpose, ids, subject)
    samples = [
        {"id": t.task_id, "name": t.name, "state": t.state, "queue": t.queue, "worker": t.worker}
        for t in found[:sample]
    ]
    return CommandResult(
        observed={"count": len(ids)},
        data={
            "token": selection.token,
            "count": len(ids),
            "sample": samples,
            "expires_at": selection.expires_at,
        },
    )


@dataclass(frozen=True, slots=True)
class BulkRequest:
    """One phase of a bulk action: a filter to preview, or the token of a preview to act on."""

    task_filter: TaskFilter | None
    token: str | None
    subject: str | None  # who previews; only they may act on the token
    sample: int = 10


async def bulk(
    plane: ControlPlane,
    purpose: Purpose,
    request: BulkRequest,
    act: Callable[[Selection], Awaitable[CommandResult]],
) -> CommandResult:
    """Either phase of a bulk action: with a filter the preview, with a token `act` on exactly
    the ids that token's preview showed (taken once; BAD_INPUT when used, expired or foreign)."""
    if (request.task_filter is None) == (request.token is None):
        raise BadInput(
            "give either filter (to preview) or selectionToken (to execute), not both",
            field="selectionToken",
        )
    if request.task_filter is not None:
        return await preview_selection(
            plane,
            request.task_filter,
            purpose=purpose,
            subject=request.subject,
            sample=request.sample,
        )
    assert request.token is not None
    return await act(await plane.selections.take(request.token, purpose, request.subject))


async def revoke_tasks(
    plane: ControlPlane, request: BulkRequest, *, terminate: bool, signal: str | None
) -> CommandResult:
    signame = normalize_signal(signal)  # before the token is taken: a typo must not use it up

    async def act(selection: Selection) -> CommandResult:
        return await _revoke_ids(plane, selection.task_ids, terminate=terminate, signame=signame)

    return await bulk(plane, "revoke", request, act)


async def retry_tasks(plane: ControlPlane, request: BulkRequest) -> CommandResult:
    async def act(selection: Selection) -> CommandResult:
        return await _retry_ids(plane, selection.task_ids)

    return await bulk(plane, "retry", request, act)


__all__ = [
    "BulkRequest",
    "bulk",
    "normalize_signal",
    "preview_selection",
    "retry_task",
    "retry_tasks",
    "revoke_task",
    "revoke_tasks",
]
