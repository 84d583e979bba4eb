"""System lifecycle: shut one worker or every worker down (optionally draining first), restart
every pool. Each waits, bounded, for what it caused: a worker that stops answering, running tasks
that finish."""

from __future__ import annotations

from typing import Any

from src.control.errors import Unsupported
from src.control.plane import ControlPlane
from src.control.pool import pool_restart, queues_of
from src.control.result import CommandResult, poll, reply_errors
from src.errors import AppError, BadInput, ErrorCode
from src.workers.replies import parse_stats, task_requests

SHUTDOWN_WAIT = 20.0
MAX_DRAIN_SECONDS = 600.0


async def _wait_stopped(plane: ControlPlane, hostnames: list[str], within: float) -> set[str]:
    """Wait until none of hostnames answers a ping; returns those still answering."""

    async def probe() -> set[str]:
        return await plane.controller.ping(hostnames, wait=0.5)

    still, _ = await poll(probe, lambda alive: not alive, within)
    for host in hostnames:
        if host not in still:
            plane.inspector.mark_offline(host)
    return set(still)


async def shutdown_worker(plane: ControlPlane, hostname: str) -> CommandResult:
    targets = await plane.controller.resolve([hostname])
    raw = await plane.controller.call("stats", destination=targets)
    stats = parse_stats(raw.get(hostname))
    await plane.controller.call("shutdown", destination=targets, reply=False)
    still = await _wait_stopped(plane, targets, SHUTDOWN_WAIT)
    errors: list[AppError] = (
        [AppError(f"{hostname} still answers after {SHUTDOWN_WAIT:g}s", code=ErrorCode.TIMEOUT)]
        if still
        else []
    )
    plane.invalidate()
    return CommandResult(
        errors=errors,
        state_before={"hostname": hostname, "pid": stats.pid if stats else None, "online": True},
        state_after={"hostname": hostname, "online": bool(still)},
        observed={"stopped": not still},
    )


async def _drain(
    plane: ControlPlane, targets: list[str], drain_seconds: float
) -> tuple[list[dict[str, Any]], list[AppError]]:
    """Stop consuming every queue, then wait (bounded) for running tasks to finish."""
    steps: list[dict[str, Any]] = []
    errors: list[AppError] = []
    queues = await queues_of(plane, targets)
    cancelled: dict[str, list[str]] = {}
    for queue in sorted({q for qs in queues.values() for q in qs}):
        hosts = [h for h in targets if queue in queues[h]]
        replies = await plane.controller.command(
            "cancel_consumer", {"queue": queue}, destination=hosts
        )
        cancelled[queue] = [r.hostname for r in replies if r.ok]
    steps.append({"name": "stop consuming", "ok": True, "detail": cancelled})

    async def running() -> dict[str, list[str | None]]:
        raw = await plane.controller.call("active", destination=targets)
        return {h: [t.id for t in task_requests(raw.get(h))] for h in targets if raw.get(h)}

    left, finished = await poll(running, lambda r: not r, drain_seconds)
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
    return steps, errors


async def shutdown_system(
    plane: ControlPlane, *, drain: bool, drain_seconds: float
) -> CommandResult:
    if drain_seconds <= 0 or drain_seconds > MAX_DRAIN_SECONDS:
        raise BadInput(
            f"drainTimeout: between 0 and {MAX_DRAIN_SECONDS:g} seconds", field="drainTimeout"
        )
    targets = await plane.controller.resolve(None)
    steps, errors = await _drain(plane, targets, drain_seconds) if drain else ([], [])
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
    plane.invalidate()
    return CommandResult(
        errors=errors,
        state_before={"workers": targets},
        state_after={"still_answering": sorted(still)},
        observed={"steps": steps},
        data={"steps": steps},
    )


async def ping_workers(plane: ControlPlane, workers: list[str] | None) -> CommandResult:
    """Ask the chosen workers (None: every live one) to answer a ping; each reply is reported."""
    targets = await plane.controller.resolve(workers)
    replies = await plane.controller.command("ping", destination=targets)
    answered = sorted(r.hostname for r in replies if r.ok)
    return CommandResult(
        replies=replies,
        errors=reply_errors(replies, targets, ErrorCode.WORKER_UNAVAILABLE),
        observed={"answered": answered, "silent": sorted(set(targets) - set(answered))},
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


__all__ = ["ping_workers", "restart_system", "shutdown_system", "shutdown_worker"]
