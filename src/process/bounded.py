"""Awaiting calls and tasks without trusting them to honour cancellation or to finish.

Two ways a stop used to hang: a library swallows the CancelledError meant for its caller (redis-py 8
does so while it connects, and Python 3.11's `asyncio.wait_for` loses one when the inner call
finishes at the same moment), and a stop step waits on something that never answers (a stalled
Redis or database). Both helpers run the work in a task of its own and wait for it with
`asyncio.wait`, which neither cancels nor swallows anything: the caller's own cancellation always
propagates, and the caller never waits longer than it chose to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

AGAIN = 0.5  # seconds a task gets after a second cancellation


async def call_within(work: Awaitable[T], seconds: float) -> T:
    """The result of `work`, or TimeoutError after `seconds` (the work is cancelled).

    If the caller is cancelled meanwhile, the work is cancelled too and CancelledError propagates,
    whatever the work does with its own cancellation."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise TimeoutError(f"no answer within {seconds:g} s")
    return task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    """Cancel and forget `task`; whatever it ends with is retrieved (no "never retrieved" logs)."""
    task.cancel()
    task.add_done_callback(lambda t: None if t.cancelled() else t.exception())


async def stop_within(work: Awaitable[object], seconds: float, what: str) -> bool:
    """Await a stop step for at most `seconds`; log and give up on it after that.

    Never raises (but CancelledError): a failing or hanging step must not keep the next ones from
    running. True when the step finished in time."""
    try:
        await call_within(work, seconds)
        return True
    except TimeoutError:
        log.warning("stopping %s took longer than %g s; going on without it", what, seconds)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("stopping %s failed: %s: %s", what, type(exc).__name__, exc)
    return False


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], seconds: float, what: str) -> None:
    """Cancel `tasks` and wait at most `seconds` for them to end; the ones still running for the
    last `AGAIN` of them are cancelled again (a cancellation can be lost), then named and left."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    for task in pending:
        task.cancel()
    again = min(AGAIN, seconds / 2)
    if pending:
        _, pending = await asyncio.wait(pending, timeout=seconds - again)
    for task in pending:
        task.cancel()
    if pending:
        _, pending = await asyncio.wait(pending, timeout=again)
    if pending:
        names = ", ".join(sorted(t.get_name() for t in pending))
        log.warning("%s still running %g s after being cancelled: %s", what, seconds, names)
    for task in tasks:
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: the task is over either way
        else:
            _abandon(task)


class StopBudget:
    """Seconds left of a stop's overall budget, for steps that each also have a cap of their own."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        """At most `cap`, at most what is left, and at least a moment (every step gets to try)."""
        return max(0.05, min(cap, self.deadline - time.monotonic()))


__all__ = ["StopBudget", "call_within", "cancel_and_wait", "stop_within"]
