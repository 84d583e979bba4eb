"""Root fields of the control domain: each mutation is its audit action, role, target and call."""

from __future__ import annotations

from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from resolvers.audited import run_audited
from schema.context import Info
from schema.types.control import (
    ConfigEntry,
    ControlPayload,
    MonitoringPayload,
    PurgeQueuePayload,
    ShutdownStep,
    ShutdownSystemPayload,
    SystemConfigPayload,
    SystemConfiguration,
    TaskActionPayload,
    TaskSelection,
    TaskSummary,
)
from schema.types.task_filter import TaskFilterInput
from src.auth.roles import Principal, Role
from src.control import commands
from src.control.commands import CommandResult
from src.control.configuration import celery_conf
from src.errors import BadInput
from src.monitoring.switch import MONITORING_ENABLED, set_monitoring_enabled

Workers = Annotated[
    list[str] | None,
    strawberry.argument(description="Hostnames to act on; null for every live worker."),
]


def _control_extras(result: CommandResult) -> dict[str, Any]:
    return {
        "state_before": result.state_before,
        "state_after": result.state_after,
        "observed": result.observed,
    }


def _task_extras(result: CommandResult) -> dict[str, Any]:
    data = result.data
    selection = None
    if "token" in data:
        selection = TaskSelection(
            token=data["token"],
            count=data["count"],
            sample=[TaskSummary(**s) for s in data["sample"]],
            expires_at=data["expires_at"],
        )
    return {
        "selection": selection,
        "task_ids": list(data.get("task_ids", [])),
        "observed": result.observed,
    }


async def _control(
    info: Info,
    action: str,
    role: Role,
    target: str | None,
    variables: dict[str, Any],
    run: Any,
) -> ControlPayload:
    return await run_audited(
        info,
        action=action,
        role=role,
        target=target,
        variables=variables,
        run=run,
        payload=ControlPayload,
        extras=_control_extras,
    )


def _targets(workers: list[str] | None) -> str:
    return ",".join(workers) if workers else "*"


# --- tasks ---------------------------------------------------------------------------------------


async def revoke_task(
    info: Info, id: str, terminate: bool = False, signal: str = "SIGTERM"
) -> ControlPayload:
    """Revoke one task (admin); with terminate, kill its process with `signal`. The revoke is
    recorded and re-sent to workers that come online later."""
    plane = info.context.services.control
    return await _control(
        info,
        "revokeTask",
        Role.ADMIN,
        id,
        {"id": id, "terminate": terminate, "signal": signal},
        lambda _p: commands.revoke_task(plane, id, terminate=terminate, signal=signal),
    )


def _two_phase(
    filter: TaskFilterInput | None, selection_token: str | None
) -> tuple[str, TaskFilterInput | None]:
    if (filter is None) == (selection_token is None):
        raise BadInput(
            "give either filter (to preview) or selectionToken (to execute), not both",
            field="selectionToken",
        )
    return ("execute" if selection_token else "preview"), filter


async def revoke_tasks(
    info: Info,
    filter: TaskFilterInput | None = None,
    selection_token: str | None = None,
    terminate: bool = False,
    signal: str = "SIGTERM",
    sample_size: int = 10,
) -> TaskActionPayload:
    """Bulk revoke in two steps (admin): with `filter`, a preview (count, sample and a selection
    token; nothing is revoked); with `selectionToken`, revoke exactly the previewed tasks."""
    plane = info.context.services.control

    async def run(principal: Principal) -> CommandResult:
        phase, task_filter = _two_phase(filter, selection_token)
        if phase == "preview":
            assert task_filter is not None
            return await commands.preview_selection(
                plane,
                task_filter.to_domain(),
                purpose="revoke",
                subject=principal.subject,
                sample=sample_size,
            )
        assert selection_token is not None
        return await commands.revoke_selection(
            plane,
            selection_token,
            subject=principal.subject,
            terminate=terminate,
            signal=signal,
        )

    return await run_audited(
        info,
        action="revokeTasks",
        role=Role.ADMIN,
        target=None,
        variables={
            "filter": strawberry.asdict(filter) if filter else None,
            "selectionToken": selection_token,
            "terminate": terminate,
            "signal": signal,
        },
        run=run,
        payload=TaskActionPayload,
        extras=_task_extras,
    )


async def retry_task(info: Info, id: str) -> TaskActionPayload:
    """Re-send a finished task with its exact original args and kwargs (admin); `taskIds` holds
    the new task's id. Refused when the original arguments are not known exactly."""
    plane = info.context.services.control
    return await run_audited(
        info,
        action="retryTask",
        role=Role.ADMIN,
        target=id,
        variables={"id": id},
        run=lambda _p: commands.retry_task(plane, id),
        payload=TaskActionPayload,
        extras=_task_extras,
    )


async def retry_tasks(
    info: Info,
    filter: TaskFilterInput | None = None,
    selection_token: str | None = None,
    sample_size: int = 10,
) -> TaskActionPayload:
    """Bulk retry in two steps (admin), like revokeTasks; `taskIds` holds the new ids."""
    plane = info.context.services.control

    async def run(principal: Principal) -> CommandResult:
        phase, task_filter = _two_phase(filter, selection_token)
        if phase == "preview":
            assert task_filter is not None
            return await commands.preview_selection(
                plane,
                task_filter.to_domain(),
                purpose="retry",
                subject=principal.subject,
                sample=sample_size,
            )
        assert selection_token is not None
        return await commands.retry_selection(plane, selection_token, subject=principal.subject)

    return await run_audited(
        info,
        action="retryTasks",
        role=Role.ADMIN,
        target=None,
        variables={
            "filter": strawberry.asdict(filter) if filter else None,
            "selectionToken": selection_token,
        },
        run=run,
        payload=TaskActionPayload,
        extras=_task_extras,
    )


# --- queues --------------------------------------------------------------------------------------


async def purge_queue(info: Info, name: str, confirm: bool = False) -> PurgeQueuePayload:
    """Delete every waiting message of a queue, priority sub-queues included (admin)."""
    plane = info.context.services.control
    return await run_audited(
        info,
        action="purgeQueue",
        role=Role.ADMIN,
        target=name,
        variables={"name": name, "confirm": confirm},
        run=lambda _p: commands.purge_queue(plane, name, confirm=confirm),
        payload=PurgeQueuePayload,
        extras=lambda r: {"queue": r.data.get("queue"), "purged": r.data.get("purged")},
    )


# --- workers -------------------------------------------------------------------------------------


async def set_rate_limit(
    info: Info, task_name: str, rate: str, workers: Workers = None
) -> ControlPayload:
    """Set a task's rate limit, e.g. '10/m' ('0' removes it) (admin)."""
    plane = info.context.services.control
    return await _control(
        info,
        "setRateLimit",
        Role.ADMIN,
        f"{task_name}@{_targets(workers)}",
        {"taskName": task_name, "rate": rate, "workers": workers},
        lambda _p: commands.set_rate_limit(plane, task_name, rate, workers),
    )


async def set_time_limit(
    info: Info,
    task_name: str,
    soft: float | None = None,
    hard: float | None = None,
    workers: Workers = None,
) -> ControlPayload:
    """Set a task's soft and hard time limits in seconds (admin)."""
    plane = info.context.services.control
    return await _control(
        info,
        "setTimeLimit",
        Role.ADMIN,
        f"{task_name}@{_targets(workers)}",
        {"taskName": task_name, "soft": soft, "hard": hard, "workers": workers},
        lambda _p: commands.set_time_limit(plane, task_name, soft, hard, workers),
    )


async def pool_grow(info: Info, n: int = 1, workers: Workers = None) -> ControlPayload:
    """Add n processes to each chosen worker's pool (admin)."""
    plane = info.context.services.control
    return await _control(
        info,
        "poolGrow",
        Role.ADMIN,
        _targets(workers),
        {"n": n, "workers": workers},
        lambda _p: commands.resize_pool(plane, n, workers, grow=True),
    )


async def pool_shrink(info: Info, n: int = 1, workers: Workers = None) -> ControlPayload:
    """Remove n processes from each chosen worker's pool (admin)."""
    plane = info.context.services.control
    return await _control(
        info,
        "poolShrink",
        Role.ADMIN,
        _targets(workers),
        {"n": n, "workers": workers},
        lambda _p: commands.resize_pool(plane, n, workers, grow=False),
    )


async def autoscale(
    info: Info,
    max: int,
    min: int,
    workers: Workers = None,
) -> ControlPayload:
    """Set the autoscaler's bounds (admin); fails unless the worker runs with --autoscale."""
    plane = info.context.services.control
    return await _control(
        info,
        "autoscale",
        Role.ADMIN,
        _targets(workers),
        {"max": max, "min": min, "workers": workers},
        lambda _p: commands.autoscale(plane, max, min, workers),
    )


async def add_consumer(info: Info, queue: str, workers: Workers = None) -> ControlPayload:
    """Make the chosen workers consume a queue (admin)."""
    plane = info.context.services.control
    return await _control(
        info,
        "addConsumer",
        Role.ADMIN,
        f"{queue}@{_targets(workers)}",
        {"queue": queue, "workers": workers},
        lambda _p: commands.add_consumer(plane, queue, workers),
    )


async def cancel_consumer(info: Info, queue: str, workers: Workers = None) -> ControlPayload:
    """Make the chosen workers stop consuming a queue (admin)."""
    plane = info.context.services.control
    return await _control(
        info,
        "cancelConsumer",
        Role.ADMIN,
        f"{queue}@{_targets(workers)}",
        {"queue": queue, "workers": workers},
        lambda _p: commands.cancel_consumer(plane, queue, workers),
    )


async def pool_restart(info: Info, workers: Workers = None) -> ControlPayload:
    """Restart the chosen workers' pools (admin); needs worker_pool_restarts on the workers."""
    plane = info.context.services.control
    return await _control(
        info,
        "poolRestart",
        Role.ADMIN,
        _targets(workers),
        {"workers": workers},
        lambda _p: commands.pool_restart(plane, workers),
    )


# --- monitoring ----------------------------------------------------------------------------------


async def _monitoring(info: Info, enabled: bool) -> MonitoringPayload:
    config = info.context.services.config

    async def run(principal: Principal) -> CommandResult:
        previous = await set_monitoring_enabled(config, enabled, actor=principal.subject)
        return CommandResult(
            state_before={"enabled": previous},
            state_after={"enabled": enabled},
            data={"enabled": enabled},
        )

    return await run_audited(
        info,
        action="startMonitoring" if enabled else "stopMonitoring",
        role=Role.ADMIN,
        target=MONITORING_ENABLED.name,
        variables={},
        run=run,
        payload=MonitoringPayload,
        extras=lambda r: {"enabled": r.data.get("enabled")},
    )


async def start_monitoring(info: Info) -> MonitoringPayload:
    """Turn sampling, snapshots and alerts on for the whole deployment (admin)."""
    return await _monitoring(info, True)


async def stop_monitoring(info: Info) -> MonitoringPayload:
    """Turn sampling, snapshots and alerts off for the whole deployment (admin)."""
    return await _monitoring(info, False)


# --- super_admin ---------------------------------------------------------------------------------


async def shutdown_worker(info: Info, hostname: str) -> ControlPayload:
    """Shut one worker down (super_admin); waits until it stops answering."""
    plane = info.context.services.control
    return await _control(
        info,
        "shutdownWorker",
        Role.SUPER_ADMIN,
        hostname,
        {"hostname": hostname},
        lambda _p: commands.shutdown_worker(plane, hostname),
    )


async def shutdown_system(
    info: Info,
    drain: bool = True,
    drain_timeout: Annotated[
        float, strawberry.argument(description="Seconds to wait for running tasks.")
    ] = 60.0,
) -> ShutdownSystemPayload:
    """Shut every worker down (super_admin). With drain: stop consuming every queue, wait
    (bounded) for running tasks to finish, then shut down; each step is reported."""
    plane = info.context.services.control
    return await run_audited(
        info,
        action="shutdownSystem",
        role=Role.SUPER_ADMIN,
        target="*",
        variables={"drain": drain, "drainTimeout": drain_timeout},
        run=lambda _p: commands.shutdown_system(plane, drain=drain, drain_seconds=drain_timeout),
        payload=ShutdownSystemPayload,
        extras=lambda r: {
            "steps": [ShutdownStep(**s) for s in r.data.get("steps", [])],
        },
    )


async def restart_system(info: Info) -> ControlPayload:
    """Restart every worker's pool (super_admin); needs worker_pool_restarts on the workers."""
    plane = info.context.services.control
    return await _control(
        info,
        "restartSystem",
        Role.SUPER_ADMIN,
        "*",
        {},
        lambda _p: commands.restart_system(plane),
    )


async def update_system_config(
    info: Info, key: str, value: JSON, expected_version: int | None = None
) -> SystemConfigPayload:
    """Change one declared setting (super_admin): validated for its key, versioned; with
    expectedVersion, refused (CONFLICT) if someone changed it meanwhile."""
    config = info.context.services.config

    async def run(principal: Principal) -> CommandResult:
        before = await config.describe(key)
        after = await config.set(
            key, value, actor=principal.subject, expected_version=expected_version
        )
        return CommandResult(
            state_before={"value": before.value, "version": before.version},
            state_after={"value": after.value, "version": after.version},
            data={"entry": after},
        )

    return await run_audited(
        info,
        action="updateSystemConfig",
        role=Role.SUPER_ADMIN,
        target=key,
        variables={"key": key, "value": value, "expectedVersion": expected_version},
        run=run,
        payload=SystemConfigPayload,
        extras=lambda r: {"entry": ConfigEntry.from_value(r.data["entry"])},
    )


# --- queries -------------------------------------------------------------------------------------


async def system_configuration(info: Info) -> SystemConfiguration:
    """Celery's configuration with secrets masked, and the editable settings (admin)."""
    services = info.context.services
    return SystemConfiguration(
        celery=cast(JSON, celery_conf(services.app)),
        entries=[ConfigEntry.from_value(v) for v in await services.config.all()],
    )


__all__ = [
    "add_consumer",
    "autoscale",
    "cancel_consumer",
    "pool_grow",
    "pool_restart",
    "pool_shrink",
    "purge_queue",
    "restart_system",
    "retry_task",
    "retry_tasks",
    "revoke_task",
    "revoke_tasks",
    "set_rate_limit",
    "set_time_limit",
    "shutdown_system",
    "shutdown_worker",
    "start_monitoring",
    "stop_monitoring",
    "system_configuration",
    "update_system_config",
]
