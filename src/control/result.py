"""What a management action produced, and the small steps every control command shares.

Every command validates its input first (raising BAD_INPUT / NOT_FOUND before anything is sent),
then acts through the bounded `Controller`, then observes the effect (pool size from fresh stats,
the queue's depth, a worker that stopped answering) so the audit record says what really happened.
Partial failures (one worker of several refused) come back in `CommandResult.errors`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from src.control.broadcast import WorkerReply
from src.control.errors import Unsupported, WorkerUnavailable
from src.control.inspector import InspectKind
from src.errors import AppError, ErrorCode

if TYPE_CHECKING:
    from src.control.plane import ControlPlane

T = TypeVar("T")

POLL_EVERY = 0.2


@dataclass
class CommandResult:
    replies: list[WorkerReply] = field(default_factory=list)
    errors: list[AppError] = field(default_factory=list)
    state_before: Any = None
    state_after: Any = None
    observed: Any = None
    data: dict[str, Any] = field(default_factory=dict)


def reply_errors(
    replies: list[WorkerReply], targets: list[str], code: ErrorCode = ErrorCode.BAD_INPUT
) -> list[AppError]:
    """An error per worker that refused (with `code`) and per target that did not answer."""
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


def unsupported_errors(
    replies: list[WorkerReply], targets: list[str], marker: str, hint: str
) -> list[AppError]:
    """Refusals whose message contains `marker` become UNSUPPORTED with `hint` (a worker not
    started for this, e.g. without --autoscale); silent targets WORKER_UNAVAILABLE."""
    errors: list[AppError] = [
        Unsupported(
            f"{r.hostname}: {hint}"
            if marker in (r.message or "")
            else f"{r.hostname}: {r.message}",
            field="workers",
        )
        for r in replies
        if not r.ok
    ]
    errors += [e for e in reply_errors(replies, targets) if e.code is ErrorCode.WORKER_UNAVAILABLE]
    return errors


async def observed_command(
    plane: ControlPlane,
    command: str,
    arguments: dict[str, Any],
    *,
    destination: list[str],
    before: Any,
    after: Callable[[], Awaitable[Any]],
    changes: InspectKind,
) -> CommandResult:
    """Send `command` to `destination`, read the state again with `after`, and drop the cached
    inspect replies of the kind it changed: the result with the state before and after."""
    replies = await plane.controller.command(command, arguments, destination=destination)
    state_after = await after()
    plane.invalidate(changes)
    return CommandResult(
        replies=replies,
        errors=reply_errors(replies, destination),
        state_before=before,
        state_after=state_after,
    )


async def poll(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float
) -> tuple[T, bool]:
    """Call probe until done(value) or the deadline; returns (last value, done?)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value):
            return value, True
        if time.monotonic() >= deadline:
            return value, False
        await asyncio.sleep(POLL_EVERY)


__all__ = ["CommandResult", "observed_command", "poll", "reply_errors", "unsupported_errors"]
