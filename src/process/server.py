"""uvicorn's Server with celery-admin's stop semantics (used by `serve` and `demo`).

The one adapter over uvicorn's Server internals: `capture_signals` (which `Server.serve` enters)
and `startup` (which it awaits) are overridden; `tests/process/test_server_contract.py` fails when a
uvicorn release changes either, and uvicorn is pinned to the minor version tested.

- The first SIGINT/SIGTERM starts uvicorn's graceful stop, arms the watchdog and runs `on_stop`
  (the demo stops its workers meanwhile); a second one forces the exit.
- After a clean stop the command returns normally (exit 0). uvicorn would re-raise the signal it
  caught, so the process ended by SIGTERM (or with click's "Aborted!" on SIGINT), which a
  supervisor cannot tell from a crash.
- `on_started` runs once the socket is served and the application has started: the demo prints its
  URL and token then, not before.
- Open connections get `GRACEFUL_SECONDS` to finish (uvicorn waits for them without end by
  default; a WebSocket subscription never finishes by itself).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Generator
from types import FrameType

import uvicorn

from src.process.watchdog import StopWatchdog

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACEFUL_SECONDS = 2  # uvicorn wants whole seconds
# uvicorn's supervisor (serve --workers N) kills a replica that misses a ping for this long; a
# spawned replica answers only once its interpreter has started and imported, which takes longer
# than uvicorn's default 5 s on a busy machine (it was then killed and respawned forever).
REPLICA_HEALTHCHECK_SECONDS = 30


class AdminServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        *,
        watchdog: StopWatchdog | None = None,
        on_stop: Callable[[], None] | None = None,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.watchdog = watchdog or StopWatchdog()
        self.on_stop = on_stop
        self.on_started = on_started
        self.stop_signal: str | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        name = signal.Signals(sig).name
        self.watchdog.signal(name)  # the second signal does not return
        if self.stop_signal is None:
            self.stop_signal = name
            self.should_exit = True
            if self.on_stop is not None:
                self.on_stop()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit and self.on_started is not None:
            self.on_started()


def server_config(app: str, **options: object) -> uvicorn.Config:
    """uvicorn's Config with our defaults (bounded graceful stop, no proxy headers)."""
    defaults: dict[str, object] = {
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "proxy_headers": False,  # X-Forwarded-For counts only via TRUSTED_PROXIES (audit IPs)
    }
    return uvicorn.Config(app, **{**defaults, **options})  # type: ignore[arg-type]


__all__ = ["GRACEFUL_SECONDS", "STOP_SIGNALS", "AdminServer", "server_config"]
