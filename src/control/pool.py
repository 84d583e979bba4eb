"""Pool and consumers: grow, shrink, autoscale and restart worker pools; add or cancel the queues
a worker consumes. Each command reads the state before, acts, and reads it again after."""

from __future__ import annotations

import re

from src.control.inspector import InspectKind
from src.control.plane import ControlPlane
from src.control.result import (
    CommandResult,
    poll,
    reply_errors,
    unsupported_errors,
)
from src.errors import BadInput, ErrorCode, NotFound
from src.workers.replies import parse_stats, pool_processes, queue_names

QUEUE_NAME = re.compile(r"^[\w.:@\-]{1,255}$")
MAX_POOL_STEP = 64
OBSERVE_TIMEOUT = 10.0


async def pool_sizes(plane: ControlPlane, targets: list[str]) -> dict[str, int | None]:
    raw = await plane.controller.call("stats", destination=targets)
    return {host: pool_processes(raw.get(host)) for host in targets}


async def queues_of(plane: ControlPlane, targets: list[str]) -> dict[str, list[str]]:
    """The queues each target consumes from, sorted."""
    raw = await plane.controller.call("active_queues", destination=targets)
    return {host: sorted(queue_names(raw.get(host))) for host in targets}


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

    after, settled = await poll(
        probe, lambda s: all(s.get(h) == v for h, v in expected.items()), OBSERVE_TIMEOUT
    )
    plane.invalidate(InspectKind.STATS)
    return CommandResult(
        replies=replies,
        errors=reply_errors(replies, targets, ErrorCode.UNSUPPORTED),
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

    async def autoscalers() -> dict[str, object]:
        raw = await plane.controller.call("stats", destination=targets)
        stats = {h: parse_stats(raw.get(h)) for h in targets}
        return {h: s.autoscaler if s is not None else None for h, s in stats.items()}

    before = await autoscalers()
    replies = await plane.controller.command(
        "autoscale", {"max": max_, "min": min_}, destination=targets
    )
    errors = unsupported_errors(
        replies,
        targets,
        "Autoscale not enabled",
        "autoscale is not enabled (start the worker with --autoscale=MAX,MIN)",
    )
    after = await autoscalers()
    plane.invalidate(InspectKind.STATS)
    return CommandResult(replies=replies, errors=errors, state_before=before, state_after=after)


async def pool_restart(plane: ControlPlane, workers: list[str] | None) -> CommandResult:
    targets = await plane.controller.resolve(workers)
    before = await pool_sizes(plane, targets)
    replies = await plane.controller.command("pool_restart", {"reload": False}, destination=targets)
    errors = unsupported_errors(
        replies,
        targets,
        "not enabled",
        "pool restarts are not enabled (set worker_pool_restarts=True on the worker)",
    )
    plane.invalidate(InspectKind.STATS)
    return CommandResult(replies=replies, errors=errors, state_before={"pool_processes": before})


async def _consumer(
    plane: ControlPlane, queue: str, workers: list[str] | None, *, add: bool
) -> CommandResult:
    if not QUEUE_NAME.match(queue):
        raise BadInput(f"queue: {queue!r} is not a queue name", field="queue")
    targets = await plane.controller.resolve(workers)
    before = await queues_of(plane, targets)
    acting = targets if add else [h for h in targets if queue in before.get(h, [])]
    if not acting:
        raise NotFound(f"no chosen worker consumes queue {queue!r}", field="queue")
    replies = await plane.controller.command(
        "add_consumer" if add else "cancel_consumer", {"queue": queue}, destination=acting
    )
    # A worker answers before its consumer loop applies the change (Celery defers it with
    # call_soon), so the state after is read until the answering workers show it.
    ok_hosts = [r.hostname for r in replies if r.ok]

    def applied(state: dict[str, list[str]]) -> bool:
        return all((queue in state.get(h, [])) is add for h in ok_hosts)

    after, settled = await poll(lambda: queues_of(plane, targets), applied, OBSERVE_TIMEOUT)
    plane.invalidate(InspectKind.ACTIVE_QUEUES)
    return CommandResult(
        replies=replies,
        errors=reply_errors(replies, acting),
        state_before=before,
        state_after=after,
        observed={"settled": settled},
    )


async def add_consumer(plane: ControlPlane, queue: str, workers: list[str] | None) -> CommandResult:
    return await _consumer(plane, queue, workers, add=True)


async def cancel_consumer(
    plane: ControlPlane, queue: str, workers: list[str] | None
) -> CommandResult:
    """Only the chosen workers that consume the queue are asked; NOT_FOUND when none does."""
    return await _consumer(plane, queue, workers, add=False)


__all__ = [
    "add_consumer",
    "autoscale",
    "cancel_consumer",
    "pool_restart",
    "pool_sizes",
    "queues_of",
    "resize_pool",
]
