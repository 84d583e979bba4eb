"""`celery-admin collect`: the runtime of `serve` minus HTTP, running only the leader jobs
(collector, sampler, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from src.config import Settings
from src.runtime import Runtime

log = logging.getLogger(__name__)


async def run_collect(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Until SIGINT/SIGTERM (or `stop` is set): compete for the lease and collect while leading."""
    # No subscriptions here (so nothing published is read back); sampler and retention are
    # leader jobs too.
    runtime = Runtime.build(settings, serves_subscribers=False)
    if stop is None:  # else the caller handles signals (the CLI: src.process.watchdog)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    await runtime.start(discover_workers=False)
    log.info("collector running; waiting for leadership")
    try:
        await stop.wait()
    finally:
        await runtime.stop()


__all__ = ["run_collect"]
