"""Control mutations and the configuration query.

Mutations carry no `permission_classes`: the role is checked inside the audited runner
(resolvers/audited.py), so that a refused attempt is recorded as denied too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry

from resolvers import control as resolve
from schema.permissions import IsAdmin
from schema.types.control import (
    ControlPayload,
    MonitoringPayload,
    PurgeQueuePayload,
    ShutdownSystemPayload,
    SystemConfigPayload,
    SystemConfiguration,
    TaskActionPayload,
)


def _mutation(resolver: Callable[..., Any]) -> Any:
    return strawberry.mutation(
        resolver=resolver, description=inspect.cleandoc(resolver.__doc__ or "")
    )


@strawberry.type
class ControlMutations:
    revoke_task: ControlPayload = _mutation(resolve.revoke_task)
    revoke_tasks: TaskActionPayload = _mutation(resolve.revoke_tasks)
    retry_task: TaskActionPayload = _mutation(resolve.retry_task)
    retry_tasks: TaskActionPayload = _mutation(resolve.retry_tasks)
    purge_queue: PurgeQueuePayload = _mutation(resolve.purge_queue)
    set_rate_limit: ControlPayload = _mutation(resolve.set_rate_limit)
    set_time_limit: ControlPayload = _mutation(resolve.set_time_limit)
    pool_grow: ControlPayload = _mutation(resolve.pool_grow)
    pool_shrink: ControlPayload = _mutation(resolve.pool_shrink)
    autoscale: ControlPayload = _mutation(resolve.autoscale)
    add_consumer: ControlPayload = _mutation(resolve.add_consumer)
    cancel_consumer: ControlPayload = _mutation(resolve.cancel_consumer)
    pool_restart: ControlPayload = _mutation(resolve.pool_restart)
    start_monitoring: MonitoringPayload = _mutation(resolve.start_monitoring)
    stop_monitoring: MonitoringPayload = _mutation(resolve.stop_monitoring)
    shutdown_worker: ControlPayload = _mutation(resolve.shutdown_worker)
    shutdown_system: ShutdownSystemPayload = _mutation(resolve.shutdown_system)
    restart_system: ControlPayload = _mutation(resolve.restart_system)
    update_system_config: SystemConfigPayload = _mutation(resolve.update_system_config)


@strawberry.type
class ControlQueries:
    system_configuration: SystemConfiguration = strawberry.field(
        resolver=resolve.system_configuration,
        permission_classes=[IsAdmin],
        description=resolve.system_configuration.__doc__,
    )


__all__ = ["ControlMutations", "ControlQueries"]
