"""What each management action does, independent of GraphQL.

Every function validates its input first (raising BAD_INPUT / NOT_FOUND before anything is sent),
then acts through the bounded `Controller`, then observes the effect (pool size from fresh stats,
the queue's depth, a worker that stopped answering) so the audit record says what really happened.
Partial failures (one worker of several refused) come back in `CommandResult.errors`.
"""

from __future__ import annotations

import asyncio
import re
import signal as _signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from src.cluster_view import ClusterView
from src.control.broadcast import WorkerReply
from src.control.errors import Unsupported, WorkerUnavailable
from src.control.inspector import InspectKind
from src.control.plane import ControlPlane
from src.control.selection import MAX_SELECTION
from src.db.models import TaskRecord
from src.errors import (
    AppError,
    BadInput,
    BrokerUnavailable,
    ConflictError,
    DatabaseUnavailable,
    ErrorCode,
    NotFound,
)
from src.queues import get_queue
from src.task_filter import FINISHED_STATES, TaskFilter
from src.task_store.filters import filter_clauses
from src.workers import pool_info

RATE = re.compile(r"^\s*\d+(\.\d+)?\s*(/\s*[smh])?\s*$")
QUEUE_NAME = re.compile(r"^[\w.:@\-]{1,255}$")
MAX_POOL_STEP = 64
OBSERVE_TIMEOUT = 10.0
SHUTDOWN_WAIT = 20.0
MAX_DRAIN_SECONDS = 600.0
MAX_RETRY_SELECTION = 1000
SAMPLE_MAX = 50


@dataclass
class CommandResult:
    replies: list[WorkerReply] = field(default_factory=list)
    errors: list[AppError] = field(default_factory=list)
    state_before: Any = None
    state_after: Any = None
    observed: Any = None
    data: dict[str, Any] = field(default_factory=dict)


# --- helpers -------------------------------------------------------------------------------------


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


def _reply_errors(
    replies: list[WorkerReply], targets: list[str], code: ErrorCode = ErrorCode.BAD_INPUT
) -> list[AppError]:
    errors: list[AppError] = [
        AppError(f"{r.hostname}: {r.message}", code=code, field="workers")
        for r in replies
        if not r.ok
    ]
    answered = {r.hostname for r in replies}
    errors += [
        WorkerUnavailable(f"{h}: no reply", field="workers") for h in targets if h not in answered
    ]
    return errors


async def _poll(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], within: float
) -> tuple[Any, bool]:
    """Call probe until done(value) or the deadline; returns (last value, done?)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value):
            return value, True
        if time.monotonic() >= deadline:
            return value, False
        await asyncio.sleep(0.2)


async def pool_sizes(plane: ControlPlane, targets: list[str]) -> dict[str, int | None]:
    raw = await plane.controller.call("stats", destination=targets)
    sizes: dict[str, int | None] = {}
    for host in targets:
        info = pool_info(raw.get(host))
        sizes[host] = info.processes if info else None
    return sizes


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


async def _queues_of(plane: ControlPlane, targets: list[str]) -> dict[str, list[str]]:
    raw = await plane.controller.call("active_queues", destination=targets)
    return {
        host: sorted(str(q.get("name")) for q in raw.get(host) or () if isinstance(q, dict))
        for host in targets
    }


def _invalidate(plane: ControlPlane, *kinds: InspectKind) -> None:
    plane.services.inspector.invalidate(*kinds)


# --- tasks ---------------------------------------------------------------------------------------


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
    if terminate and location.worker and location.found_in == "worker":

        async def active_ids() -> set[str]:
            raw = await plane.controller.call("active", destination=[location.worker or ""])
            return {t.get("id") for t in raw.get(location.worker or "") or ()}

        _ids, gone = await _poll(active_ids, lambda ids: location.task_id not in ids, 5.0)
        observed["left_active"] = gone
    _invalidate(plane, InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.REVOKED)
    return CommandResult(
        replies=replies,
        state_before=location.summary(),
        observed=observed,
        data={"task_ids": [location.task_id]},
    )


async def _record_revokes(plane: ControlPlane, task_ids: list[str]) -> None:
    try:
        await plane.revokes.record(task_ids)
    except AppError:
        raise
    except Exception as exc:
        raise BrokerUnavailable(f"could not record the revoke in Redis: {exc}") from exc


async def preview_selection(
    plane: ControlPlane, task_filter: TaskFilter, *, purpose: str, subject: str | None, sample: int
) -> CommandResult:
    if task_filter == TaskFilter():
        raise BadInput(
            "filter: give at least one condition (an empty filter selects every task)",
            field="filter",
        )
    if sample < 0 or sample > SAMPLE_MAX:
        raise BadInput(f"sampleSize: between 0 and {SAMPLE_MAX}", field="sampleSize")
    engine = plane.services.engine
    statement = (
        select(
            TaskRecord.task_id,
            TaskRecord.name,
            TaskRecord.state,
            TaskRecord.queue,
            TaskRecord.worker,
        )
        .where(*filter_clauses(task_filter, engine.dialect.name))
        .order_by(TaskRecord.seen_at.desc(), TaskRecord.task_id)
        .limit(MAX_SELECTION + 1)
    )
    try:
        async with plane.services.sessions() as session:
            rows = (await session.execute(statement)).all()
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(f"task history unavailable: {type(exc).__name__}") from exc
    if len(rows) > MAX_SELECTION:
        raise BadInput(f"filter matches more than {MAX_SELECTION} tasks; narrow it", field="filter")
    ids = [r.task_id for r in rows]
    if purpose == "retry" and len(ids) > MAX_RETRY_SELECTION:
        raise BadInput(
            f"filter matches {len(ids)} tasks; at most {MAX_RETRY_SELECTION} are retried at once",
            field="filter",
        )
    selection = await plane.selections.create(purpose, ids, subject)
    samples = [
        {"id": r.task_id, "name": r.name, "state": r.state, "queue": r.queue, "worker": r.worker}
        for r in rows[:sample]
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


async def revoke_selection(
    plane: ControlPlane, token: str, *, subject: str | None, terminate: bool, signal: str | None
) -> CommandResult:
    signame = normalize_signal(signal)
    selection = await plane.selections.take(token, "revoke", subject)
    if selection.task_ids:
        await _record_revokes(plane, selection.task_ids)
        replies = await plane.controller.command(
            "revoke", {"task_id": selection.task_ids, "terminate": terminate, "signal": signame}
        )
    else:
        replies = []
    _invalidate(plane, InspectKind.ACTIVE, InspectKind.RESERVED, InspectKind.REVOKED)
    return CommandResult(
        replies=replies,
        observed={
            "count": len(selection.task_ids),
            "confirmed_by": [r.hostname for r in replies if r.ok],
        },
        data={"task_ids": selection.task_ids, "count": len(selection.task_ids)},
    )


async def _resend(plane: ControlPlane, task_id: str) -> tuple[str, dict[str, Any]]:
    location = await plane.locator.find(task_id)
    if location.state not in FINISHED_STATES:
        raise ConflictError(
            f"task {task_id} is {location.state or 'not finished'}; only finished tasks are retried",
            field="id",
        )
    if not location.call_known:
        raise Unsupported(
            f"the exact arguments of task {task_id} are not known (no extended result and no "
            "stored args); it cannot be re-sent faithfully",
            field="id",
        )
    loop = asyncio.get_running_loop()
    app = plane.services.app

    def send() -> str:
        options: dict[str, Any] = {"queue": location.queue} if location.queue else {}
        return str(
            app.send_task(location.name, args=location.args, kwargs=location.kwargs, **options).id
        )

    try:
        new_id = await loop.run_in_executor(plane.services.inspector.executor, send)
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


async def retry_selection(plane: ControlPlane, token: str, *, subject: str | None) -> CommandResult:
    selection = await plane.selections.take(token, "retry", subject)
    retried: dict[str, str] = {}
    errors: list[AppError] = []
    for task_id in selection.task_ids:
        try:
            retried[task_id] = (await _resend(plane, task_id))[0]
        except AppError as exc:
            errors.append(AppError(exc.message, code=exc.code, field=task_id))
    return CommandResult(
        errors=errors,
        observed={"count": len(selection.task_ids), "retried": len(retried)},
        data={"task_ids": list(retried.values()), "retried": retried},
    )


# --- queues --------------------------------------------------------------------------------------


async def purge_queue(plane: ControlPlane, name: str, *, confirm: bool) -> CommandResult:
    if not confirm:
        raise BadInput(
            "confirm: purging deletes messages for good; pass confirm: true", field="confirm"
        )
    services = plane.services
    found = await get_queue(services.app, services.queues, ClusterView(services.inspector), name)
    if found is None:
        raise NotFound(f"unknown queue {name!r}", field="name")
    before = found.depth.messages
    purged = await services.queues.purge(name)
    after = (await services.queues.depths([name]))[name].messages
    return CommandResult(
        state_before={"queue": name, "messages": before, "by_priority": found.depth.by_priority},
        state_after={"queue": name, "messages": after},
        observed={"purged": purged},
        data={"purged": purged, "queue": name},
    )


# --- workers -------------------------------------------------------------------------------------


async def set_rate_limit(
    plane: ControlPlane, task_name: str, rate: str, workers: list[str] | None
) -> CommandResult:
    if not RATE.match(rate):
        raise BadInput(
            f"rate: {rate!r} is not a rate like '10/m', '2/s', '100/h' or '0' (no limit)",
            field="rate",
        )
    rate = rate.replace(" ", "")
    targets = await plane.controller.resolve(workers)
    before = await _task_settings(plane, targets, task_name, ["rate_limit"])
    if not any(before.values()):
        raise NotFound(f"unknown task {task_name!r} on {', '.join(targets)}", field="taskName")
    having = [h for h, v in before.items() if v]
    replies = await plane.controller.command(
        "rate_limit", {"task_name": task_name, "rate_limit": rate}, destination=having
    )
    after = await _task_settings(plane, having, task_name, ["rate_limit"])
    _invalidate(plane, InspectKind.REGISTERED)
    return CommandResult(
        replies=replies,
        errors=_reply_errors(replies, having),
        state_before=before,
        state_after=after,
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
    targets = await plane.controller.resolve(workers)
    items = ["time_limit", "soft_time_limit"]
    before = await _task_settings(plane, targets, task_name, items)
    if not any(before.values()):
        raise NotFound(f"unknown task {task_name!r} on {', '.join(targets)}", field="taskName")
    having = [h for h, v in before.items() if v]
    replies = await plane.controller.command(
        "time_limit", {"task_name": task_name, "soft": soft, "hard": hard}, destination=having
    )
    after = await _task_settings(plane, having, task_name, items)
    _invalidate(plane, InspectKind.REGISTERED)
    return CommandResult(
        replies=replies,
        errors=_reply_errors(replies, having),
        state_before=before,
        state_after=after,
    )


async def resize_pool(
    plane: ControlPlane, n: int, workers: list[str] | None, *, grow: bool
) -> CommandResult:
    if n < 1 or n > MAX_POOL_STEP:
        raise BadInput(f"n: between 1 and {MAX_POOL_STEP}", field="n")
    targets = await plane.controller.resolve(workers)
    before = await pool_sizes(plane, targets)
    if not grow:
        too_small = [h for h, size in before.items() if size is not None and size - n < 1]
        if too_small:
            raise BadInput(
                f"n: shrinking by {n} would leave no pool process on {', '.join(too_small)}",
                field="n",
            )
    replies = await plane.controller.command(
        "pool_grow" if grow else "pool_shrink", {"n": n}, destination=targets
    )
    ok_hosts = [r.hostname for r in replies if r.ok]
    expected = {
        h: (before[h] or 0) + (n if grow else -n) for h in ok_hosts if before.get(h) is not None
    }

    async def probe() -> dict[str, int | None]:
        return await pool_sizes(plane, targets)

    after, settled = await _poll(
        probe, lambda s: all(s.get(h) == v for h, v in expected.items()), OBSERVE_TIMEOUT
    )
    _invalidate(plane, InspectKind.STATS)
    return CommandResult(
        replies=replies,
        errors=_reply_errors(replies, targets, ErrorCode.UNSUPPORTED),
        state_before={"pool_processes": before},
        state_after={"pool_processes": after},
        observed={"settled": settled},
    )


async def autoscale(
    plane: ControlPlane, max_: int, min_: int, workers: list[str] | None
) -> CommandResult:
    if min_ < 0 or max_ < 1 or min_ > max_ or max_ > 1000:
        raise BadInput("max/min: need 0 <= min <= max, 1 <= max <= 1000", field="max")
    targets = await plane.controller.resolve(workers)
    before = await plane.controller.call("stats", destination=targets)
    replies = await plane.controller.command(
        "autoscale", {"max": max_, "min": min_}, destination=targets
    )
    errors: list[AppError] = [
        Unsupported(
            f"{r.hostname}: autoscale is not enabled (start the worker with --autoscale=MAX,MIN)"
            if "Autoscale not enabled" in (r.message or "")
            else f"{r.hostname}: {r.message}",
            field="workers",
        )
        for r in replies
        if not r.ok
    ]
    errors += [e for e in _reply_errors(replies, targets) if e.code is ErrorCode.WORKER_UNAVAILABLE]
    after = await plane.controller.call("stats", destination=targets)
    _invalidate(plane, InspectKind.STATS)
    return CommandResult(
        replies=replies,
        errors=errors,
        state_before={h: (before.get(h) or {}).get("autoscaler") for h in targets},
        state_after={h: (after.get(h) or {}).get("autoscaler") for h in targets},
    )


async def add_consumer(plane: ControlPlane, queue: str, workers: list[str] | None) -> CommandResult:
    if not QUEUE_NAME.match(queue):
        raise BadInput(f"queue: {queue!r} is not a queue name", field="queue")
    targets = await plane.controller.resolve(workers)
    before = await _queues_of(plane, targets)
    replies = await plane.controller.command("add_consumer", {"queue": queue}, destination=targets)
    after = await _queues_of(plane, targets)
    _invalidate(plane, InspectKind.ACTIVE_QUEUES)
    return CommandResult(
        replies=replies,
        errors=_reply_errors(replies, targets),
        state_before=before,
        state_after=after,
    )


async def cancel_consumer(
    plane: ControlPlane, queue: str, workers: list[str] | None
) -> CommandResult:
    if not QUEUE_NAME.match(queue):
        raise BadInput(f"queue: {queue!r} is not a queue name", field="queue")
    targets = await plane.controller.resolve(workers)
    before = await _queues_of(plane, targets)
    consuming = [h for h in targets if queue in before.get(h, [])]
    if not consuming:
        raise NotFound(f"no chosen worker consumes queue {queue!r}", field="queue")
    replies = await plane.controller.command(
        "cancel_consumer", {"queue": queue}, destination=consuming
    )
    after = await _queues_of(plane, targets)
    _invalidate(plane, InspectKind.ACTIVE_QUEUES)
    return CommandResult(
        replies=replies,
        errors=_reply_errors(replies, consuming),
        state_before=before,
        state_after=after,
    )


async def pool_restart(plane: ControlPlane, workers: list[str] | None) -> CommandResult:
    targets = await plane.controller.resolve(workers)
    before = await pool_sizes(plane, targets)
    replies = await plane.controller.command("pool_restart", {"reload": False}, destination=targets)
    errors: list[AppError] = [
        Unsupported(
            f"{r.hostname}: pool restarts are not enabled (set worker_pool_restarts=True on the worker)"
            if "not enabled" in (r.message or "")
            else f"{r.hostname}: {r.message}",
            field="workers",
        )
        for r in replies
        if not r.ok
    ]
    errors += [e for e in _reply_errors(replies, targets) if e.code is ErrorCode.WORKER_UNAVAILABLE]
    _invalidate(plane, InspectKind.STATS)
    return CommandResult(replies=replies, errors=errors, state_before={"pool_processes": before})


async def _wait_stopped(plane: ControlPlane, hostnames: list[str], within: float) -> set[str]:
    """Wait until none of hostnames answers a ping; returns those still answering."""

    async def probe() -> set[str]:
        return await plane.controller.ping(hostnames, wait=0.5)

    still, _ = await _poll(probe, lambda alive: not alive, within)
    for host in hostnames:
        if host not in still:
            plane.services.inspector.mark_offline(host)
    return set(still)


async def shutdown_worker(plane: ControlPlane, hostname: str) -> CommandResult:
    targets = await plane.controller.resolve([hostname])
    stats = await plane.controller.call("stats", destination=targets)
    pid = (stats.get(hostname) or {}).get("pid")
    await plane.controller.call("shutdown", destination=targets, reply=False)
    still = await _wait_stopped(plane, targets, SHUTDOWN_WAIT)
    errors: list[AppError] = (
        [AppError(f"{hostname} still answers after {SHUTDOWN_WAIT:g}s", code=ErrorCode.TIMEOUT)]
        if still
        else []
    )
    _invalidate(plane)
    return CommandResult(
        errors=errors,
        state_before={"hostname": hostname, "pid": pid, "online": True},
        state_after={"hostname": hostname, "online": bool(still)},
        observed={"stopped": not still},
    )


async def shutdown_system(
    plane: ControlPlane, *, drain: bool, drain_seconds: float
) -> CommandResult:
    if drain_seconds <= 0 or drain_seconds > MAX_DRAIN_SECONDS:
        raise BadInput(
            f"drainTimeout: between 0 and {MAX_DRAIN_SECONDS:g} seconds", field="drainTimeout"
        )
    targets = await plane.controller.resolve(None)
    steps: list[dict[str, Any]] = []
    errors: list[AppError] = []
    if drain:
        queues = await _queues_of(plane, targets)
        cancelled: dict[str, list[str]] = {}
        for queue in sorted({q for qs in queues.values() for q in qs}):
            hosts = [h for h in targets if queue in queues[h]]
            replies = await plane.controller.command(
                "cancel_consumer", {"queue": queue}, destination=hosts
            )
            cancelled[queue] = [r.hostname for r in replies if r.ok]
        steps.append({"name": "stop consuming", "ok": True, "detail": cancelled})

        async def running() -> dict[str, list[str]]:
            raw = await plane.controller.call("active", destination=targets)
            return {h: [t.get("id") for t in raw.get(h) or ()] for h in targets if raw.get(h)}

        left, finished = await _poll(running, lambda r: not r, drain_seconds)
        steps.append(
            {
                "name": "wait for running tasks",
                "ok": finished,
                "detail": {"still_running": left, "drain_seconds": drain_seconds},
            }
        )
        if not finished:
            errors.append(
                AppError(
                    f"tasks still running after {drain_seconds:g}s: shut down anyway",
                    code=ErrorCode.TIMEOUT,
                )
            )
    await plane.controller.call("shutdown", destination=targets, reply=False)
    still = await _wait_stopped(plane, targets, SHUTDOWN_WAIT)
    steps.append(
        {
            "name": "shutdown",
            "ok": not still,
            "detail": {"workers": targets, "still_answering": sorted(still)},
        }
    )
    if still:
        errors.append(
            AppError(f"still answering: {', '.join(sorted(still))}", code=ErrorCode.TIMEOUT)
        )
    _invalidate(plane)
    return CommandResult(
        errors=errors,
        state_before={"workers": targets},
        state_after={"still_answering": sorted(still)},
        observed={"steps": steps},
        data={"steps": steps},
    )


async def restart_system(plane: ControlPlane) -> CommandResult:
    result = await pool_restart(plane, None)
    if result.replies and all(not r.ok for r in result.replies):
        raise Unsupported(
            "no worker allows pool restarts (set worker_pool_restarts=True): "
            + "; ".join(e.message for e in result.errors),
            field="workers",
        )
    return result


__all__ = [
    "CommandResult",
    "add_consumer",
    "autoscale",
    "cancel_consumer",
    "normalize_signal",
    "pool_restart",
    "pool_sizes",
    "preview_selection",
    "purge_queue",
    "resize_pool",
    "restart_system",
    "retry_selection",
    "retry_task",
    "revoke_selection",
    "revoke_task",
    "set_rate_limit",
    "set_time_limit",
    "shutdown_system",
    "shutdown_worker",
]
