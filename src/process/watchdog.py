"""The last resort behind the bounded stop: `serve`, `collect` and `demo` promise to stop within
10 s of SIGINT or SIGTERM.

Every stop path is bounded at its cause (see `src.process.bounded`, `src.leadership`,
`Runtime.stop`); this is what remains if something still is not: armed by the first stop signal, it
waits `grace` seconds in a daemon thread (which outlives the event loop and runs while the
interpreter joins other threads on its way out), then writes what was still running, the event
loop's tasks and the threads with where each stands, to stderr, runs the owner's last words (the
demo kills its child processes) and ends the process with EXIT_FORCED. A second signal does the
same at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable

from src.process.report import EXIT_FORCED

STOP_PROMISE = 10.0
GRACE = 9.0  # leaves a second of the promise for the report and the exit


class StopWatchdog:
    def __init__(self, grace: float = GRACE) -> None:
        self.grace = grace
        self.reason: str | None = None
        self._last_words: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def on_force(self, action: Callable[[], None]) -> None:
        """Run `action` (quick, blocking is fine) before a forced exit."""
        self._last_words.append(action)

    @property
    def armed(self) -> bool:
        return self.reason is not None

    def arm(self, reason: str) -> None:
        """Start counting (once; later calls are ignored). Safe in a signal handler."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._wait, name="stop-watchdog", daemon=True).start()

    def signal(self, name: str) -> None:
        """A stop signal arrived: the first arms, a second forces the exit now."""
        if self.armed:
            self.force(f"second {name}")
        self.arm(name)

    def _wait(self) -> None:
        threading.Event().wait(self.grace)
        self.force(f"still running {self.grace:g} s after {self.reason}")

    def force(self, why: str) -> None:
        """Report what is still running, run the last words, and exit with EXIT_FORCED."""
        try:
            _write(f"celery-admin: stop forced ({why}); still running:\n{self._running()}")
            for action in self._last_words:
                with contextlib.suppress(Exception):
                    action()
        finally:
            os._exit(EXIT_FORCED)

    def _running(self) -> str:
        lines: list[str] = []
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(Exception):
                for task in asyncio.all_tasks(loop):
                    if not task.done():
                        lines.append(f"  task {task.get_name()}: {_where(task)}")
        frames = sys._current_frames()
        for thread in threading.enumerate():
            if thread is threading.current_thread():
                continue
            frame = frames.get(thread.ident or -1)
            place = ""
            if frame is not None:
                top = traceback.extract_stack(frame)[-1]
                place = f" at {top.filename}:{top.lineno} in {top.name}"
            kind = "daemon thread" if thread.daemon else "thread"
            lines.append(f"  {kind} {thread.name}{place}")
        return "\n".join(lines) or "  (nothing found)"


async def run_until_signal(
    main: Callable[[asyncio.Event], Awaitable[None]], watchdog: StopWatchdog | None = None
) -> None:
    """Run `main(stop)` with SIGINT/SIGTERM setting `stop` and arming the watchdog (`collect`)."""
    watchdog = watchdog or StopWatchdog()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        watchdog.signal(sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await main(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _where(task: asyncio.Task[object]) -> str:
    """Where a task is suspended: its coroutines from the outermost in, the last few of them."""
    coro: object = task.get_coro()
    places: list[str] = []
    for _ in range(100):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            name = os.path.basename(frame.f_code.co_filename)
            places.append(f"{frame.f_code.co_name} ({name}:{frame.f_lineno})")
        inner = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        if inner is None:
            break
        coro = inner
    return " > ".join(places[-4:]) or "?"


def _write(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, (text.rstrip("\n") + "\n").encode(errors="replace"))


__all__ = ["GRACE", "STOP_PROMISE", "StopWatchdog", "run_until_signal"]
