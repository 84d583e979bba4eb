"""`celery-admin collect`: the services of `serve` minus HTTP, running only the leader jobs
(collector, sampler, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from src.config import Settings
from src.monitoring.runtime import install as install_monitoring
from src.services import Services

log = logging.getLogger(__name__)


async def run_collect(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Until SIGINT/SIGTERM (or `stop` is set): compete for the lease and collect while leading."""
    services = Services.build(settings)
    install_monitoring(services)  # the sampler is a leader job too
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await services.start(discover_workers=False)
    log.info("collector running; waiting for leadership")
    try:
        await stop.wait()
    finally:
        await services.stop()


__all__ = ["run_collect"]
